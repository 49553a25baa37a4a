import * as decoding from 'lib0/decoding'
import { decodeUtf8 } from 'lib0/string'

export type UpdateCheck =
  | { ok: true; empty: boolean }
  | { ok: false; reason: 'invalid_update'; message: string }

/**
 * Refuses, before it reaches storage, an update that Yjs cannot apply or after which a document holding it no
 * longer loads, encodes or merges. It reads the v1 encoding field by field as Yjs does (`readClientsStructRefs`,
 * `readItemContent`, `readAndApplyDeleteSet`), without building structs, and holds every struct and deletion
 * to what Yjs itself writes; each rule says what breaks without it. `empty` marks an update that changes
 * nothing: no item, no GC, no deletion.
 *
 * Why that suffices: applying an update, Yjs looks up an item's origin, right origin and parent ID only once
 * `getMissing` found each below its client's state; a reference to a clock the document lacks leaves the item
 * pending until the clock arrives, which is legal and common after concurrent edits. `getMissing` skips that
 * test for the item's own client, assuming the reference precedes the item, as in every update Yjs writes (a
 * client refers only to what it had when it wrote the item). An item is integrated only once its client's
 * state reached its clock, so such a reference is then in the store; one at the item's clock or later is not,
 * and the lookup throws. Pending structs and deletions are re-encoded as v2 and merged with later ones, which
 * needs structs of length ≥ 1, one block per client, deletion ranges in clock order and clocks v2 can encode.
 *
 * What it cannot see without the document: an update telling of IDs the document has as something else (a
 * GC where the document has text, another client's clock rewritten). Yjs assumes no update does, and
 * integrating such a forged history next to the real one can throw.
 *
 * Cost, measured on the first 100k keystroke updates of the automerge-paper trace: 0.25 µs per update, where
 * `Y.decodeUpdate` (the check before this one) took 0.39 µs and `Y.applyUpdate` takes 3.9 µs; 0.6 ms (was
 * 1.9 ms) for the whole resulting document, 124 KB. Applying to a scratch Y.Doc as well would cost 22 µs a
 * keystroke and prove little: a keystroke refers to state a fresh doc lacks, so it would only go pending there.
 */
export function checkUpdate(update: Uint8Array): UpdateCheck {
  try {
    const decoder = decoding.createDecoder(update)
    const changingStructs = readStructs(decoder)
    const deletions = readDeletions(decoder)
    // Bytes after the delete set are ignored by Yjs, as here.
    return { ok: true, empty: changingStructs === 0 && deletions === 0 }
  } catch (err) {
    return { ok: false, reason: 'invalid_update', message: `not a valid Yjs update: ${errorText(err)}` }
  }
}

/**
 * The largest clock an update may reach. Older lib0 versions, which many clients still bundle, encode varuints
 * in 32 bits and v2 origin clock differences as `diff << 1` ("only supports 31 bit integers"), so they cannot
 * re-encode a document with larger clocks. A client would need a billion edits in one session to get there.
 */
const maxClock = 2 ** 30

/** The low five bits of a struct's info byte. */
const kind = {
  gc: 0,
  deleted: 1,
  json: 2,
  binary: 3,
  string: 4,
  embed: 5,
  format: 6,
  type: 7,
  any: 8,
  doc: 9,
  skip: 10,
} as const

const hasOrigin = 0b1000_0000
const hasRightOrigin = 0b0100_0000
const hasParentSub = 0b0010_0000

/** Y type refs (`typeRefs` in yjs ContentType.js); an XmlElement and an XmlHook are followed by their name. */
const typeRefCount = 7
const typeRefXmlElement = 3
const typeRefXmlHook = 5

/** Reading stops at the first fault, where lib0 and JSON.parse throw too; `checkUpdate` turns either into the refusal. */
function refuse(message: string): never {
  throw new Error(message)
}

/** Reads every client's block of structs; returns how many change the document (skips do not). */
function readStructs(decoder: decoding.Decoder): number {
  const blockCount = decoding.readVarUint(decoder)
  // Most updates (a keystroke) hold one block and delete nothing: no set to allocate for them.
  const clients = blockCount > 1 ? new Set<number>() : null
  let changing = 0
  for (let block = 0; block < blockCount; block++) {
    const structCount = decoding.readVarUint(decoder)
    const client = readClient(decoder)
    // Applying keeps only a client's last block, merging keeps all of them: the two would disagree.
    if (clients?.has(client)) refuse(`client ${client} has two blocks of structs`)
    clients?.add(client)
    let clock = decoding.readVarUint(decoder)
    for (let i = 0; i < structCount; i++) {
      const info = readByte(decoder)
      const structKind = info & 0b1_1111
      let length: number
      if (structKind === kind.gc) {
        length = decoding.readVarUint(decoder)
      } else if (structKind === kind.skip) {
        // Applying reads any such info byte as a skip; decodeUpdate and mergeUpdates only the bare one.
        if (info !== kind.skip) refuse(`struct ${client}:${clock} is a skip with flags set (info ${info})`)
        length = decoding.readVarUint(decoder)
      } else {
        length = readItem(decoder, info, client, clock)
      }
      // An empty struct breaks the binary search over a client's structs and the v2 encoder.
      if (length === 0) refuse(`struct ${client}:${clock} has length 0`)
      if (structKind !== kind.skip) changing++
      if (clock + length > maxClock) refuse(`struct ${client}:${clock} ends past clock ${maxClock}`)
      clock += length
    }
  }
  return changing
}

/** Reads an item's references, parent and content; returns its length. */
function readItem(decoder: decoding.Decoder, info: number, client: number, clock: number): number {
  const placedByNeighbours = (info & (hasOrigin | hasRightOrigin)) !== 0
  if (info & hasOrigin) readReference(decoder, 'origin', client, clock)
  if (info & hasRightOrigin) readReference(decoder, 'right origin', client, clock)
  if (!placedByNeighbours) {
    // Without neighbours an item names its parent: a root type, or the item holding a nested type.
    const parentIsRoot = decoding.readVarUint(decoder) === 1
    if (parentIsRoot) readString(decoder)
    else readReference(decoder, 'parent', client, clock)
    if (info & hasParentSub) readString(decoder)
  }
  return readContent(decoder, info & 0b1_1111, client, clock)
}

function readReference(decoder: decoding.Decoder, role: string, client: number, clock: number): void {
  const refClient = readClient(decoder)
  const refClock = decoding.readVarUint(decoder)
  if (refClient === client && refClock >= clock) {
    refuse(`item ${client}:${clock} has ${role} ${refClient}:${refClock}, a clock its own client cannot have reached before it`)
  }
  if (refClock >= maxClock) refuse(`item ${client}:${clock} has ${role} ${refClient}:${refClock}, past clock ${maxClock}`)
}

/** Reads what `readItemContent` reads for `contentKind`; returns the content's length. */
function readContent(decoder: decoding.Decoder, contentKind: number, client: number, clock: number): number {
  switch (contentKind) {
    case kind.deleted:
      return decoding.readVarUint(decoder)
    case kind.json: {
      const count = decoding.readVarUint(decoder)
      for (let i = 0; i < count; i++) {
        const json = readString(decoder)
        if (json !== 'undefined') JSON.parse(json)
      }
      return count
    }
    case kind.binary:
      readBytes(decoder, decoding.readVarUint(decoder))
      return 1
    case kind.string:
      return readString(decoder).length
    case kind.embed:
      JSON.parse(readString(decoder))
      return 1
    case kind.format:
      readString(decoder)
      JSON.parse(readString(decoder))
      return 1
    case kind.type: {
      const typeRef = decoding.readVarUint(decoder)
      if (typeRef >= typeRefCount) refuse(`item ${client}:${clock} holds a Y type of unknown kind ${typeRef}`)
      if (typeRef === typeRefXmlElement || typeRef === typeRefXmlHook) readString(decoder)
      return 1
    }
    case kind.any: {
      const count = decoding.readVarUint(decoder)
      for (let i = 0; i < count; i++) readAny(decoder)
      return count
    }
    case kind.doc:
      readString(decoder)
      checkSubdocOptions(readAny(decoder), client, clock)
      return 1
    default:
      return refuse(`item ${client}:${clock} has content of unknown kind ${contentKind}`)
  }
}

/**
 * Yjs builds the subdocument as `new Doc({ guid, ...options })` and writes back only `gc`, `autoLoad` and
 * `meta`. A `guid` among the options replaces the named one (a non-string one is written as different strings
 * by the v1 and v2 encoders); a `gcFilter` is not a function, and the first deletion in the loaded subdocument
 * throws.
 */
function checkSubdocOptions(options: unknown, client: number, clock: number): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options) || options instanceof Uint8Array) {
    refuse(`item ${client}:${clock} holds a subdocument whose options are not an object`)
  }
  for (const key of ['guid', 'gcFilter']) {
    if (Object.hasOwn(options, key)) refuse(`item ${client}:${clock} holds a subdocument whose options set "${key}"`)
  }
}

/** Reads the delete set; returns how many ranges it has. */
function readDeletions(decoder: decoding.Decoder): number {
  const clientCount = decoding.readVarUint(decoder)
  const clients = clientCount > 1 ? new Set<number>() : null
  let ranges = 0
  for (let c = 0; c < clientCount; c++) {
    const client = readClient(decoder)
    // Yjs applies each entry on its own: the second one's ranges would follow the first's out of order.
    if (clients?.has(client)) refuse(`the delete set lists client ${client} twice`)
    clients?.add(client)
    const rangeCount = decoding.readVarUint(decoder)
    let end = 0
    for (let i = 0; i < rangeCount; i++) {
      const clock = decoding.readVarUint(decoder)
      const length = decoding.readVarUint(decoder)
      // Ranges Yjs cannot apply yet are kept v2-encoded as clock differences, in the order read: out of order,
      // they come back at other clocks. A v2 range cannot be empty.
      if (clock < end) refuse(`the deletions of client ${client} are not in clock order (${clock} after ${end})`)
      if (length === 0) refuse(`the deletion at ${client}:${clock} has length 0`)
      if (clock + length > maxClock) refuse(`the deletion at ${client}:${clock} ends past clock ${maxClock}`)
      end = clock + length
      ranges++
    }
  }
  return ranges
}

/**
 * Client ids past 2^53 - 1 do not survive as JavaScript numbers: two clients could become one. (Yjs draws 32-bit
 * ids; other implementations up to 53 bits.)
 */
function readClient(decoder: decoding.Decoder): number {
  const client = decoding.readVarUint(decoder)
  if (client > Number.MAX_SAFE_INTEGER) refuse(`client id ${client} is too large for a JavaScript number`)
  return client
}

// lib0's readers of bytes, strings and floats do not check the end of the array: they would read on into the
// buffer under it (a WebSocket frame's next message) or return undefined.

function readByte(decoder: decoding.Decoder): number {
  if (decoder.pos >= decoder.arr.length) refuse('the update ends in the middle of a struct')
  return decoder.arr[decoder.pos++]!
}

function readBytes(decoder: decoding.Decoder, byteLength: number): Uint8Array {
  if (byteLength > decoder.arr.length - decoder.pos) refuse('the update ends in the middle of a struct')
  return decoder.arr.subarray(decoder.pos, (decoder.pos += byteLength))
}

function readString(decoder: decoding.Decoder): string {
  return decodeUtf8(readBytes(decoder, decoding.readVarUint(decoder)))
}

function readAny(decoder: decoding.Decoder): unknown {
  const value = decoding.readAny(decoder)
  if (decoder.pos > decoder.arr.length) refuse('the update ends in the middle of a struct')
  return value
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
