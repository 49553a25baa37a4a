import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { messageYjsSyncStep1, messageYjsSyncStep2, messageYjsUpdate } from 'y-protocols/sync'
import { readDeleteRanges, type DeleteSet } from './delete-set.js'

/** Top-level message types of the y-websocket protocol, as y-websocket 3.x's provider sends them. */
export const MessageType = {
  sync: 0,
  awareness: 1,
  auth: 2,
  queryAwareness: 3,
  /**
   * syncmesh's extension, far from the stock types: a client asks [durable, id, query] and the node answers
   * [durable, id] once everything the query names — the structs of a state vector and, if it has one, the
   * ranges of a delete set — is durable here (see encodeDurableQuery). A stock client never asks, so it
   * never receives one.
   */
  durable: 64,
} as const

export type ClientMessage =
  | { type: 'sync-step1'; stateVector: Uint8Array }
  | { type: 'sync-step2'; update: Uint8Array }
  | { type: 'sync-update'; update: Uint8Array }
  | { type: 'awareness'; update: Uint8Array }
  | { type: 'query-awareness' }
  /** `stateVector` is the encoded query: a state vector, optionally followed by a delete set (decodeDurableQuery). */
  | { type: 'durable-query'; id: number; stateVector: Uint8Array }
  | { type: 'unknown'; messageType: number }

export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError'
}

/**
 * Decodes one y-websocket message that fills the whole of `frame`. Throws MalformedMessageError for a frame
 * that is truncated, has trailing bytes, or carries an unknown sync sub-type; unknown top-level types decode
 * to `unknown` so that callers can ignore them, as the protocol asks.
 */
export function decodeClientMessage(frame: Uint8Array): ClientMessage {
  // One at most, and an empty frame throws: exactly one.
  return decodeClientFrame(frame, 1)[0]!
}

/**
 * Decodes every message of a frame: y-websocket 3.x sends one per frame, later clients may send several.
 * All or nothing: a malformed message anywhere throws MalformedMessageError and nothing of the frame is
 * used. An unknown top-level type ends the frame (its length is unknown, so nothing after it can be read).
 * More than `maxMessages` messages is malformed too: each costs the node work, whatever its size.
 */
export function decodeClientFrame(frame: Uint8Array, maxMessages: number): ClientMessage[] {
  const messages: ClientMessage[] = []
  try {
    const decoder = decoding.createDecoder(frame)
    while (decoding.hasContent(decoder)) {
      if (messages.length === maxMessages) {
        throw new MalformedMessageError(maxMessages === 1 ? 'trailing bytes after message' : `more than ${maxMessages} messages in one frame`)
      }
      const message = readClientMessage(decoder)
      messages.push(message)
      if (message.type === 'unknown') break
    }
  } catch (err) {
    if (err instanceof MalformedMessageError) throw err
    throw new MalformedMessageError(`malformed frame: ${(err as Error).message}`)
  }
  if (messages.length === 0) throw new MalformedMessageError('malformed frame: empty')
  return messages
}

function readClientMessage(decoder: decoding.Decoder): ClientMessage {
  const messageType = decoding.readVarUint(decoder)
  switch (messageType) {
    case MessageType.sync:
      return readSyncMessage(decoder)
    case MessageType.awareness:
      return { type: 'awareness', update: decoding.readVarUint8Array(decoder) }
    case MessageType.queryAwareness:
      return { type: 'query-awareness' }
    case MessageType.durable:
      return { type: 'durable-query', id: decoding.readVarUint(decoder), stateVector: decoding.readVarUint8Array(decoder) }
    default:
      return { type: 'unknown', messageType }
  }
}

function readSyncMessage(decoder: decoding.Decoder): ClientMessage {
  const syncType = decoding.readVarUint(decoder)
  const payload = decoding.readVarUint8Array(decoder)
  switch (syncType) {
    case messageYjsSyncStep1:
      return { type: 'sync-step1', stateVector: payload }
    case messageYjsSyncStep2:
      return { type: 'sync-step2', update: payload }
    case messageYjsUpdate:
      return { type: 'sync-update', update: payload }
    default:
      throw new MalformedMessageError(`unknown sync message type ${syncType}`)
  }
}

/** The frame [type, sub-type?, payload with its length]: the payload is copied once, into the frame. */
function encodeWith(messageType: number, subType: number | null, payload: Uint8Array | null): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, messageType)
  if (subType !== null) encoding.writeVarUint(encoder, subType)
  if (payload === null) return encoding.toUint8Array(encoder)
  encoding.writeVarUint(encoder, payload.byteLength)
  const header = encoding.toUint8Array(encoder)
  const frame = new Uint8Array(header.byteLength + payload.byteLength)
  frame.set(header)
  frame.set(payload, header.byteLength)
  return frame
}

export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array =>
  encodeWith(MessageType.sync, messageYjsSyncStep1, stateVector)

export const encodeSyncStep2 = (update: Uint8Array): Uint8Array =>
  encodeWith(MessageType.sync, messageYjsSyncStep2, update)

export const encodeSyncUpdate = (update: Uint8Array): Uint8Array =>
  encodeWith(MessageType.sync, messageYjsUpdate, update)

export const encodeAwareness = (awarenessUpdate: Uint8Array): Uint8Array =>
  encodeWith(MessageType.awareness, null, awarenessUpdate)

export const encodeQueryAwareness = (): Uint8Array => encodeWith(MessageType.queryAwareness, null, null)

/** What a durability query asks to be durable. */
export interface DurableQuery {
  stateVector: Map<number, number>
  /**
   * The deleted ranges, encoded (read them with readDeleteRanges) and checked to be well formed: the bytes
   * are smaller than the ranges they name, and a query that waits keeps them. Null in a query of the first
   * form, which names structs only.
   */
  deletions: Uint8Array | null
}

/**
 * Most bytes of the delete-set part of a durability query. A node keeps the part of each query that waits
 * (up to SessionBudget.maxDurableQueries of them per connection), so this bounds that memory; the SDK asks
 * only for deletions not yet confirmed, and cuts a larger set into several queries under the bound.
 */
export const maxDurableQueryDeletionBytes = 64 * 1024

/** A message that is well formed but passes a bound of the protocol; a node closes the connection 4413 for it. */
export class MessageTooLargeError extends MalformedMessageError {
  override name = 'MessageTooLargeError'
}

/**
 * The frame [durable, id, query]. The query is an encoded state vector, optionally followed by a delete set,
 * written as a Yjs snapshot with an empty state vector (yjs exports no encoder for a delete set alone). The
 * delete set matters because a state vector does not move when a client only deletes. Both share the one
 * length-prefixed payload of the first form, so a frame still holds several messages, and a node that knows
 * only the first form reads the state vector (Y.decodeStateVector ignores what follows it) and answers as before.
 * The delete set must encode in at most maxDurableQueryDeletionBytes (see splitDeleteSet).
 */
export function encodeDurableQuery(id: number, stateVector: Uint8Array, deleteSet?: DeleteSet): Uint8Array {
  const deletions = deleteSet ? Y.encodeSnapshot(Y.createSnapshot(deleteSet, new Map())) : new Uint8Array(0)
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageType.durable)
  encoding.writeVarUint(encoder, id)
  encoding.writeVarUint(encoder, stateVector.byteLength + deletions.byteLength)
  encoding.writeUint8Array(encoder, stateVector)
  encoding.writeUint8Array(encoder, deletions)
  return encoding.toUint8Array(encoder)
}

/**
 * Reads the query of a durability question (see encodeDurableQuery). Throws MessageTooLargeError for a delete
 * set over maxDurableQueryDeletionBytes, before reading it, and MalformedMessageError for a malformed query.
 * Bytes after the delete set's snapshot are ignored, as Y.decodeSnapshot ignores them.
 */
export function decodeDurableQuery(query: Uint8Array): DurableQuery {
  const stateVector = new Map<number, number>()
  try {
    const decoder = decoding.createDecoder(query)
    // Read as Y.decodeStateVector reads it, which does not tell where the state vector ends.
    for (let clients = decoding.readVarUint(decoder); clients > 0; clients--) {
      const client = decoding.readVarUint(decoder)
      stateVector.set(client, decoding.readVarUint(decoder))
    }
    if (!decoding.hasContent(decoder)) return { stateVector, deletions: null }
    const start = decoder.pos
    if (query.byteLength - start > maxDurableQueryDeletionBytes) {
      throw new MessageTooLargeError(`the delete set of a durability query passes ${maxDurableQueryDeletionBytes} bytes; split it`)
    }
    // Every range read now, so that a malformed one is refused at once rather than when a wait reaches it.
    for (const ranges = readDeleteRanges(decoder); !ranges.next().done; );
    if (decoding.readVarUint(decoder) !== 0) throw new MalformedMessageError('the delete set of a durability query carries a state vector')
    // A copy: `query` is a view into the socket's frame, which a waiting query would otherwise keep whole.
    return { stateVector, deletions: query.slice(start, decoder.pos) }
  } catch (err) {
    if (err instanceof MalformedMessageError) throw err
    throw new MalformedMessageError(`malformed durability query: ${(err as Error).message}`)
  }
}

export function encodeDurableAnswer(id: number): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageType.durable)
  encoding.writeVarUint(encoder, id)
  return encoding.toUint8Array(encoder)
}
