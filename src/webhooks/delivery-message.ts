import { createHash } from 'node:crypto'
import { Webhook as Signer } from 'standardwebhooks'
import type { StoredChange } from '../storage/change-log.js'

/**
 * The Standard Webhooks `webhook-id` of the event of `change` for `webhookId`. It names what changed — the
 * document, the kind of change and its state vector — rather than which node saw it, so that when two nodes
 * deliver the same change (one took over from the other) the receiver can tell it is the same message.
 */
export function messageIdOf(webhookId: string, change: Pick<StoredChange, 'type' | 'name' | 'stateVector'>): string {
  const hash = createHash('sha256').update(webhookId).update('\0').update(change.type).update('\0').update(change.name).update('\0')
  if (change.stateVector) hash.update(change.stateVector)
  return `msg_${hash.digest('base64url').slice(0, 32)}`
}

/** The JSON body of a delivery: `{type, timestamp, data}`, the shape the Standard Webhooks spec suggests. */
export function deliveryBody(change: StoredChange, origin: { node: string; cursor: string }): string {
  return JSON.stringify({
    type: `document.${change.type}`,
    timestamp: new Date(change.timeMs).toISOString(),
    data: {
      name: change.name,
      time: new Date(change.timeMs).toISOString(),
      bytes: change.bytes,
      stateVector: change.stateVector ? Buffer.from(change.stateVector).toString('base64') : null,
      node: origin.node,
      cursor: origin.cursor,
    },
  })
}

/** The headers of one attempt, signed at `now` with the webhook's `whsec_` secret. */
export function deliveryHeaders(secret: string, messageId: string, body: string, now: Date): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'syncmesh-webhooks',
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Signer(secret).sign(messageId, now, body),
  }
}
