import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { DocStore } from '../docs/doc-store.js'
import type { ChangeRecorder } from '../changes/change-recorder.js'
import type { MetaStateMachine } from '../meta/state-machine.js'
import type { PeerNetwork } from '../peer/peer-network.js'
import type { WebhookStorage } from '../storage/webhook-storage.js'
import { decodeWebhookNotice, encodeWebhookNotice } from '../protocol/webhook-notice.js'
import { WebhookDispatcher, type DispatcherOptions } from './webhook-dispatcher.js'

export interface WebhookParts {
  selfId: string
  /** Whether this node was removed from the cluster: a removed node sends nothing. */
  removed(): boolean
  meta: MetaStateMachine
  peers: PeerNetwork
  docs: DocStore
  storage: WebhookStorage
  recorder: ChangeRecorder
  registry: Registry
}

/** The node's webhook dispatcher, told of every change that may move responsibility, with its peer channel and metrics. */
export function startWebhooks(parts: WebhookParts, options: DispatcherOptions, log: Logger): WebhookDispatcher {
  const { selfId, meta, peers } = parts
  const outcomes = new Counter({
    name: 'syncmesh_webhook_attempts_total',
    help: 'Webhook delivery attempts by outcome: delivered, retrying (failed, retried later), failed (for good)',
    labelNames: ['outcome'],
    registers: [parts.registry],
  })
  const dispatcher = new WebhookDispatcher(
    {
      selfId,
      storage: parts.storage,
      feed: parts.recorder,
      commit: (write) => parts.docs.writeWithNextCommit(write),
      webhooks: () => meta.state.webhooks,
      reachableMembers: () => {
        if (parts.removed()) return []
        const members = meta.state.members
        const reachable = peers.connectedPeers().filter((id) => members.has(id))
        return members.has(selfId) ? [...reachable, selfId] : reachable
      },
      broadcast: (notice) => {
        const payload = encodeWebhookNotice(notice)
        for (const peer of peers.connectedPeers()) peers.send(peer, 'webhooks', payload)
      },
      onOutcome: (outcome) => outcomes.inc({ outcome }),
    },
    options,
    log,
  )
  new Gauge({
    name: 'syncmesh_webhook_pending_deliveries',
    help: 'Webhook deliveries queued on this node and not yet delivered or failed',
    registers: [parts.registry],
    collect(this: Gauge) {
      this.set(dispatcher.pendingCount())
    },
  })
  peers.on('webhooks', (from, payload) => {
    // Throws for a malformed notice: the link closes with 4400.
    const notice = decodeWebhookNotice(payload)
    if (!meta.state.members.has(from)) return
    dispatcher.noticed(notice).catch((err: unknown) => log.error({ err, from }, 'recording a webhook notice failed'))
  })
  const poke = () => dispatcher.poke()
  const forgetRemoved = () => dispatcher.forgetRemoved().catch((err: unknown) => log.error({ err }, 'forgetting removed webhooks failed'))
  peers.onLinkUp(poke)
  peers.onLinkDown(poke)
  meta.onRestored(() => {
    void forgetRemoved()
    poke()
  })
  meta.onApplied((command, result) => {
    if (!result.ok) return
    if (command.type === 'delete-webhook') void forgetRemoved()
    if (['put-webhook', 'add-member', 'remove-member'].includes(command.type)) poke()
  })
  return dispatcher
}
