import { UsageError } from './config.js'
import { adminFlagsUsage, type AdminCommandGroup } from './admin-cli.js'
import { argsOf } from './cli-values.js'
import type { WebhookList } from '../client/admin-client.js'
import { webhookEvents, type WebhookEvent } from '../src/meta/state.js'

/** `syncmesh webhooks …`: where the cluster sends document changes. */
export const webhookCommands: AdminCommandGroup = {
  usage: `usage: syncmesh webhooks <command> [--url URL] [--admin-token TOKEN] [--json]

commands:
  ls                                         registered webhooks
  add <url> [--events updated,deleted] [--prefix P]
                                             register one; prints its id and signing secret (shown only now)
  rm <id>                                    remove one

${adminFlagsUsage}
`,
  options: { events: { type: 'string' }, prefix: { type: 'string' } },
  async run({ admin }, command, rest, values) {
    switch (command) {
      case 'ls': {
        const list = await admin.webhooks()
        return { json: list, text: formatWebhooks(list) }
      }
      case 'add': {
        const [url] = argsOf(rest, 'webhooks add', 'url')
        const events = typeof values.events === 'string' ? values.events.split(',').filter((e) => e !== '') : [...webhookEvents]
        const unknown = events.find((e) => !(webhookEvents as readonly string[]).includes(e))
        if (unknown !== undefined) throw new UsageError(`--events: ${JSON.stringify(unknown)} is not one of ${webhookEvents.join(', ')}`)
        const prefix = typeof values.prefix === 'string' ? values.prefix : ''
        return { json: await admin.addWebhook({ url, events: events as WebhookEvent[], prefix }) }
      }
      case 'rm': {
        return { json: await admin.removeWebhook(...argsOf(rest, 'webhooks rm', 'id')) }
      }
      default:
        throw new UsageError(`unknown webhooks command ${JSON.stringify(command)}`)
    }
  },
}

function formatWebhooks({ webhooks }: WebhookList): string {
  if (webhooks.length === 0) return 'no webhooks\n'
  return webhooks.map((w) => `${w.id}  ${w.events.join(',').padEnd(15)} ${(w.prefix || '*').padEnd(16)} ${w.url}`).join('\n') + '\n'
}
