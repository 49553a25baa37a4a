import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { messageYjsSyncStep1, messageYjsSyncStep2, messageYjsUpdate } from 'y-protocols/sync'

/** Top-level message types of the y-websocket protocol, as y-websocket 3.x's provider sends them. */
export const MessageType = {
  sync: 0,
  awareness: 1,
  auth: 2,
  queryAwareness: 3,
  /**
   * syncmesh's extension, far from the stock types: a client asks [durable, id, its state vector] and the
   * node answers [durable, id] once everything up to that state vector is durable here. A stock client
   * never asks, so it never receives one.
   */
  durable: 64,
} as const

export type ClientMessage =
  | { type: 'sync-step1'; stateVector: Uint8Array }
  | { type: 'sync-step2'; update: Uint8Array }
  | { type: 'sync-update'; update: Uint8Array }
  | { type: 'awareness'; update: Uint8Array }
  | { type: 'query-awareness' }
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

export function encodeDurableQuery(id: number, stateVector: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageType.durable)
  encoding.writeVarUint(encoder, id)
  encoding.writeVarUint8Array(encoder, stateVector)
  return encoding.toUint8Array(encoder)
}

export function encodeDurableAnswer(id: number): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MessageType.durable)
  encoding.writeVarUint(encoder, id)
  return encoding.toUint8Array(encoder)
}
