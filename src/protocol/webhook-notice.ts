import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { checkDocName } from '../docs/doc-name.js'
import { webhookIdSchema } from '../meta/commands.js'
import { decodeWhole } from './decode-whole.js'

/** One document's delivered state in a notice (see webhooks/coverage.ts). */
export interface NoticedDoc {
  name: string
  stateVector: Uint8Array
  deleted: boolean
}

/**
 * What the node responsible for a webhook tells its peers, on the webhooks channel, after deliveries ended
 * (delivered, or failed for good): the documents' content the webhook has been sent. A peer that takes over the
 * webhook later does not send it again.
 */
export interface WebhookNotice {
  webhookId: string
  docs: NoticedDoc[]
}

/** Documents per notice: a sender splits longer lists. */
export const maxNoticedDocs = 256

export class MalformedWebhookNoticeError extends Error {
  override name = 'MalformedWebhookNoticeError'
}

export function encodeWebhookNotice(notice: WebhookNotice): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarString(encoder, notice.webhookId)
  encoding.writeVarUint(encoder, notice.docs.length)
  for (const doc of notice.docs) {
    encoding.writeVarString(encoder, doc.name)
    encoding.writeUint8(encoder, doc.deleted ? 1 : 0)
    encoding.writeVarUint8Array(encoder, doc.stateVector)
  }
  return encoding.toUint8Array(encoder)
}

/** Throws MalformedWebhookNoticeError for a bad webhook id or name, a bad state vector, too many documents, truncation or trailing bytes. */
export function decodeWebhookNotice(payload: Uint8Array): WebhookNotice {
  return decodeWhole(payload, (decoder) => {
    const webhookId = decoding.readVarString(decoder)
    if (!webhookIdSchema.safeParse(webhookId).success) throw new MalformedWebhookNoticeError('not a webhook id')
    const count = decoding.readVarUint(decoder)
    if (count > maxNoticedDocs) throw new MalformedWebhookNoticeError(`${count} documents; at most ${maxNoticedDocs}`)
    const docs: NoticedDoc[] = []
    for (let i = 0; i < count; i++) {
      const check = checkDocName(decoding.readVarString(decoder))
      if (!check.ok) throw new MalformedWebhookNoticeError(check.message)
      const deleted = decoding.readUint8(decoder)
      if (deleted > 1) throw new MalformedWebhookNoticeError('deleted flag is not 0 or 1')
      const stateVector = decoding.readVarUint8Array(decoder)
      checkStateVector(stateVector)
      docs.push({ name: check.name, stateVector, deleted: deleted === 1 })
    }
    return { webhookId, docs }
  }, MalformedWebhookNoticeError, 'webhook notice')
}

/** A Yjs state vector, all of it: a count, then that many (client, clock) pairs. */
function checkStateVector(bytes: Uint8Array): void {
  const decoder = decoding.createDecoder(bytes)
  const clients = decoding.readVarUint(decoder)
  for (let i = 0; i < clients; i++) {
    decoding.readVarUint(decoder)
    decoding.readVarUint(decoder)
  }
  if (decoding.hasContent(decoder)) throw new MalformedWebhookNoticeError('trailing bytes after a state vector')
}
