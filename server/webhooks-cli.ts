import { UsageError } from './flags.js'
import { adminFlagsUsage, type AdminCommandGroup } from './admin-cli.js'
import { argsOf, choiceFlag, choicesFlag, positiveIntFlag } from './cli-values.js'
import type { WebhookDeliveries, WebhookList } from '../client/admin-client.js'
import { deliveryStatuses } from '../src/storage/webhook-storage.js'
import { deliveryScopes } from '../src/webhooks/delivery-listing.js'
import { webhookEvents } from '../src/meta/state.js'

/** `syncmesh webhooks …`: where the cluster sends document changes. */
export const webhookCommands: AdminCommandGroup = {
  usage: `usage: syncmesh webhooks <command> [--url URL] [--admin-token TOKEN] [--json]

commands:
  ls                                         registered webhooks
  add <url> [--events updated,deleted] [--prefix P]
                                             register one; prints its id and signing secret (shown only now)
  rm <id>                                    remove one
  deliveries <id> [--status S] [--limit N] [--scope node]
                                             recent deliveries on every reachable member, newest first;
                                             S: pending, delivered, failed or superseded

${adminFlagsUsage}
`,
  options: { events: { type: 'string' }, prefix: { type: 'string' }, status: { type: 'string' }, limit: { type: 'string' }, scope: { type: 'string' } },
  async run({ admin }, command, rest, values) {
    switch (command) {
      case 'ls': {
        const list = await admin.webhooks()
        return { json: list, text: formatWebhooks(list) }
      }
      case 'add': {
        const [url] = argsOf(rest, 'webhooks add', 'url')
        const events = choicesFlag(values, 'events', webhookEvents) ?? [...webhookEvents]
        const prefix = typeof values.prefix === 'string' ? values.prefix : ''
        return { json: await admin.addWebhook({ url, events, prefix }) }
      }
      case 'rm': {
        return { json: await admin.removeWebhook(...argsOf(rest, 'webhooks rm', 'id')) }
      }
      case 'deliveries': {
        const [id] = argsOf(rest, 'webhooks deliveries', 'id')
        const status = choiceFlag(values, 'status', deliveryStatuses)
        const scope = choiceFlag(values, 'scope', deliveryScopes)
        const limit = positiveIntFlag(values, 'limit')
        const list = await admin.webhookDeliveries(id, { ...(status && { status }), ...(scope && { scope }), ...(limit !== undefined && { limit }) })
        return { json: list, text: formatDeliveries(list) }
      }
      default:
        throw new UsageError(`unknown webhooks command ${JSON.stringify(command)}`)
    }
  },
}

function formatDeliveries({ responsibleNode, deliveries, unreachable }: WebhookDeliveries): string {
  const lines = [`sent by ${responsibleNode ?? 'no node'}`]
  for (const d of deliveries) {
    const last = d.recentAttempts.at(-1)
    const outcome = last ? (last.error ?? String(last.status)) : 'not tried yet'
    lines.push(`${d.createdAt}  ${d.status.padEnd(10)} ${d.type.padEnd(7)} ${String(d.attempts).padStart(3)}×  ${d.node}  ${d.name}  (${outcome})`)
  }
  for (const u of unreachable) lines.push(`not heard from ${u.node}: ${u.error}`)
  return lines.join('\n') + '\n'
}

function formatWebhooks({ webhooks }: WebhookList): string {
  if (webhooks.length === 0) return 'no webhooks\n'
  return webhooks.map((w) => `${w.id}  ${w.events.join(',').padEnd(15)} ${(w.prefix || '*').padEnd(16)} ${w.url}`).join('\n') + '\n'
}
