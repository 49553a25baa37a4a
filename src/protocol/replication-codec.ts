import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { decodeWhole } from './decode-whole.js'

/**
 * Messages of the peer link's `replication` channel. Type numbers are part of the wire format: never
 * reuse or renumber one.
 */
export const ReplicationMessageType = {
  updates: 0,
  range: 1,
  docRequest: 2,
  docReply: 3,
  docFill: 4,
  busy: 5,
  awareness: 6,
  chunk: 7,
  holdCheck: 8,
  holdAnswer: 9,
} as const

/** What the answering node holds of a document asked for in a `doc-request`. */
export const DocHolding = {
  /** It has the document: `update` is what the asker lacks, `stateVector` what it holds. */
  present: 0,
  /** It has nothing: the asker should send the whole document. */
  absent: 1,
  /** The document is deleted: nobody should send it anything. */
  deleted: 2,
} as const

export type DocReply =
  | { name: string; holding: 'present'; update: Uint8Array; stateVector: Uint8Array }
  | { name: string; holding: 'absent' | 'deleted' }

export interface NamedUpdate {
  name: string
  update: Uint8Array
}

export type ReplicationMessage =
  /** Live fan-out: updates this node has just made durable. */
  | { type: 'updates'; updates: NamedUpdate[] }
  /** Anti-entropy level 1: a range-based set reconciliation message of session `session`. */
  | { type: 'range'; session: number; payload: Uint8Array }
  /** Level 2: "these documents differ; here is what I hold of each (empty: nothing)". */
  | { type: 'doc-request'; session: number; docs: { name: string; stateVector: Uint8Array }[] }
  /** Level 2: what the asker lacks, and what the answerer holds. */
  | { type: 'doc-reply'; session: number; docs: DocReply[] }
  /** Level 2: what the answerer lacked. */
  | { type: 'doc-fill'; session: number; docs: NamedUpdate[] }
  /** "Not now": the peer is catching up through a session of its own; try again at a later interval. */
  | { type: 'busy'; session: number }
  /** The awareness (cursors, presence) of one document's clients on the sending node; never stored. */
  | { type: 'awareness'; name: string; update: Uint8Array }
  /**
   * Hand-off of a removed node: "do you hold at least this of each document?" — its encoded Yjs snapshot (state
   * vector and delete set), which the answer `check` echoes.
   */
  | { type: 'hold-check'; check: number; docs: { name: string; snapshot: Uint8Array }[] }
  /** The documents of a hold-check that the answering node does not hold all of. */
  | { type: 'hold-answer'; check: number; missing: string[] }
  | ChunkMessage

/**
 * A piece of a replication message too large for one frame. Pieces `index` 0, 1, … of one `transfer` are sent
 * in order on one link, each with the whole message's length; the receiver handles the message once it holds
 * all of it (see replication/chunks.ts).
 */
export interface ChunkMessage {
  type: 'chunk'
  transfer: number
  index: number
  totalBytes: number
  bytes: Uint8Array
}

export class MalformedReplicationMessageError extends Error {
  override name = 'MalformedReplicationMessageError'
}

/** Bounds a decoder accepts, so that a hostile peer cannot make this node allocate without limit. */
const maxDocsPerMessage = 100_000
/** Each document of a hold-check costs its receiver a containment check, which may read the document: few per message. */
export const maxDocsPerHoldCheck = 1_000
/** Longer than any valid document name: which names are valid is for the receiver to check. */
const maxNameBytes = 1024

export function encodeReplicationMessage(message: ReplicationMessage): Uint8Array {
  const encoder = encoding.createEncoder()
  switch (message.type) {
    case 'updates':
      encoding.writeVarUint(encoder, ReplicationMessageType.updates)
      writeNamed(encoder, message.updates, 'update')
      break
    case 'range':
      encoding.writeVarUint(encoder, ReplicationMessageType.range)
      encoding.writeVarUint(encoder, message.session)
      encoding.writeVarUint8Array(encoder, message.payload)
      break
    case 'doc-request':
      encoding.writeVarUint(encoder, ReplicationMessageType.docRequest)
      encoding.writeVarUint(encoder, message.session)
      writeNamed(encoder, message.docs, 'stateVector')
      break
    case 'doc-reply':
      encoding.writeVarUint(encoder, ReplicationMessageType.docReply)
      encoding.writeVarUint(encoder, message.session)
      encoding.writeVarUint(encoder, message.docs.length)
      for (const doc of message.docs) {
        encoding.writeVarString(encoder, doc.name)
        encoding.writeVarUint(encoder, DocHolding[doc.holding])
        if (doc.holding !== 'present') continue
        encoding.writeVarUint8Array(encoder, doc.update)
        encoding.writeVarUint8Array(encoder, doc.stateVector)
      }
      break
    case 'doc-fill':
      encoding.writeVarUint(encoder, ReplicationMessageType.docFill)
      encoding.writeVarUint(encoder, message.session)
      writeNamed(encoder, message.docs, 'update')
      break
    case 'busy':
      encoding.writeVarUint(encoder, ReplicationMessageType.busy)
      encoding.writeVarUint(encoder, message.session)
      break
    case 'awareness':
      encoding.writeVarUint(encoder, ReplicationMessageType.awareness)
      encoding.writeVarString(encoder, message.name)
      encoding.writeVarUint8Array(encoder, message.update)
      break
    case 'hold-check':
      encoding.writeVarUint(encoder, ReplicationMessageType.holdCheck)
      encoding.writeVarUint(encoder, message.check)
      writeNamed(encoder, message.docs, 'snapshot')
      break
    case 'hold-answer':
      encoding.writeVarUint(encoder, ReplicationMessageType.holdAnswer)
      encoding.writeVarUint(encoder, message.check)
      encoding.writeVarUint(encoder, message.missing.length)
      for (const name of message.missing) encoding.writeVarString(encoder, name)
      break
    case 'chunk':
      encoding.writeVarUint(encoder, ReplicationMessageType.chunk)
      encoding.writeVarUint(encoder, message.transfer)
      encoding.writeVarUint(encoder, message.index)
      encoding.writeVarUint(encoder, message.totalBytes)
      encoding.writeVarUint8Array(encoder, message.bytes)
      break
  }
  return encoding.toUint8Array(encoder)
}

/** Throws MalformedReplicationMessageError for an unknown type, a bad field, truncation or trailing bytes. */
export function decodeReplicationMessage(bytes: Uint8Array): ReplicationMessage {
  return decodeWhole(bytes, readMessage, MalformedReplicationMessageError, 'replication message')
}

function readMessage(decoder: decoding.Decoder): ReplicationMessage {
  const type = decoding.readVarUint(decoder)
  switch (type) {
    case ReplicationMessageType.updates:
      return { type: 'updates', updates: readNamed(decoder, 'update') }
    case ReplicationMessageType.range:
      return { type: 'range', session: decoding.readVarUint(decoder), payload: decoding.readVarUint8Array(decoder) }
    case ReplicationMessageType.docRequest: {
      const session = decoding.readVarUint(decoder)
      return { type: 'doc-request', session, docs: readNamed(decoder, 'stateVector') }
    }
    case ReplicationMessageType.docReply: {
      const session = decoding.readVarUint(decoder)
      return { type: 'doc-reply', session, docs: readList(decoder, () => readDocReply(decoder)) }
    }
    case ReplicationMessageType.docFill: {
      const session = decoding.readVarUint(decoder)
      return { type: 'doc-fill', session, docs: readNamed(decoder, 'update') }
    }
    case ReplicationMessageType.busy:
      return { type: 'busy', session: decoding.readVarUint(decoder) }
    case ReplicationMessageType.awareness:
      return { type: 'awareness', name: readDocName(decoder), update: decoding.readVarUint8Array(decoder) }
    case ReplicationMessageType.chunk:
      return readChunk(decoder)
    case ReplicationMessageType.holdCheck: {
      const check = decoding.readVarUint(decoder)
      return { type: 'hold-check', check, docs: readNamed(decoder, 'snapshot', maxDocsPerHoldCheck) }
    }
    case ReplicationMessageType.holdAnswer: {
      const check = decoding.readVarUint(decoder)
      return { type: 'hold-answer', check, missing: readList(decoder, () => readDocName(decoder)) }
    }
    default:
      throw new MalformedReplicationMessageError(`unknown replication message type ${type}`)
  }
}

/** A chunk is never empty and never longer than its whole message, so that every chunk moves a transfer on. */
function readChunk(decoder: decoding.Decoder): ChunkMessage {
  const transfer = decoding.readVarUint(decoder)
  const index = decoding.readVarUint(decoder)
  const totalBytes = decoding.readVarUint(decoder)
  const bytes = decoding.readVarUint8Array(decoder)
  if (bytes.byteLength === 0) throw new MalformedReplicationMessageError('empty chunk')
  if (bytes.byteLength > totalBytes) {
    throw new MalformedReplicationMessageError(`chunk of ${bytes.byteLength} bytes in a message of ${totalBytes} bytes`)
  }
  return { type: 'chunk', transfer, index, totalBytes, bytes }
}

function readDocReply(decoder: decoding.Decoder): DocReply {
  const name = readDocName(decoder)
  const holding = decoding.readVarUint(decoder)
  switch (holding) {
    case DocHolding.present:
      return { name, holding: 'present', update: decoding.readVarUint8Array(decoder), stateVector: decoding.readVarUint8Array(decoder) }
    case DocHolding.absent:
      return { name, holding: 'absent' }
    case DocHolding.deleted:
      return { name, holding: 'deleted' }
    default:
      throw new MalformedReplicationMessageError(`unknown document holding ${holding}`)
  }
}

/** A list of documents, each with one byte field `key` (an update, a state vector, a snapshot). */
type Named<K extends string> = { name: string } & Record<K, Uint8Array>

function writeNamed<K extends string>(encoder: encoding.Encoder, items: readonly Named<K>[], key: K): void {
  encoding.writeVarUint(encoder, items.length)
  for (const item of items) {
    encoding.writeVarString(encoder, item.name)
    encoding.writeVarUint8Array(encoder, item[key])
  }
}

function readNamed<K extends string>(decoder: decoding.Decoder, key: K, maxCount?: number): Named<K>[] {
  return readList(decoder, () => ({ name: readDocName(decoder), [key]: decoding.readVarUint8Array(decoder) }) as Named<K>, maxCount)
}

function readList<T>(decoder: decoding.Decoder, read: () => T, maxCount = maxDocsPerMessage): T[] {
  const count = decoding.readVarUint(decoder)
  if (count > maxCount) throw new MalformedReplicationMessageError(`${count} documents in one message`)
  const list: T[] = []
  for (let i = 0; i < count; i++) list.push(read())
  return list
}

function readDocName(decoder: decoding.Decoder): string {
  const name = decoding.readVarString(decoder)
  if (Buffer.byteLength(name, 'utf8') > maxNameBytes) throw new MalformedReplicationMessageError('document name too long')
  return name
}
