import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'

/*
 * Delete sets as durability queries carry them, shared by the node and the SDK. Every function here takes
 * delete sets as yjs makes them from a document (Y.createDeleteSetFromStructStore) or merges them
 * (Y.mergeDeleteSets): per client, ranges sorted by clock, neither overlapping nor touching.
 */

/** A Yjs delete set (yjs names its type only through Snapshot). */
export type DeleteSet = Y.Snapshot['ds']

/** The ids `clock` to `clock + len - 1` of `client`. */
export interface DeleteRange {
  client: number
  clock: number
  len: number
}

/**
 * The ranges of a delete set as Y.encodeSnapshot writes it (the V1 layout: clients, then per client its id,
 * its range count and each range's clock and length), one at a time, so that a reader keeps only the bytes.
 * Leaves `decoder` just past the delete set; throws lib0's errors on bytes that end early.
 */
export function* readDeleteRanges(decoder: decoding.Decoder): Generator<DeleteRange, void, undefined> {
  for (let clients = decoding.readVarUint(decoder); clients > 0; clients--) {
    const client = decoding.readVarUint(decoder)
    for (let ranges = decoding.readVarUint(decoder); ranges > 0; ranges--) {
      yield { client, clock: decoding.readVarUint(decoder), len: decoding.readVarUint(decoder) }
    }
  }
}

/** Whether `ds` deletes every id of `range`: one binary search, since a range so held lies within one of its ranges. */
export function deletesRange(ds: DeleteSet, { client, clock, len }: DeleteRange): boolean {
  if (len === 0) return true
  const ranges = ds.clients.get(client)
  if (ranges === undefined) return false
  let low = 0
  let high = ranges.length - 1
  while (low <= high) {
    const middle = (low + high) >>> 1
    const candidate = ranges[middle]!
    if (candidate.clock + candidate.len <= clock) low = middle + 1
    else if (candidate.clock > clock) high = middle - 1
    else return clock + len <= candidate.clock + candidate.len
  }
  return false
}

/** The ids `current` deletes and `confirmed` does not, as a delete set of the same kind. */
export function deleteSetDifference(current: DeleteSet, confirmed: DeleteSet): DeleteSet {
  const difference = Y.createDeleteSet()
  for (const [client, ranges] of current.clients) {
    const held = confirmed.clients.get(client) ?? []
    const left: { clock: number; len: number }[] = []
    let next = 0
    for (const range of ranges) {
      let clock = range.clock
      const end = range.clock + range.len
      while (next < held.length && held[next]!.clock + held[next]!.len <= clock) next++
      // Each confirmed range that starts inside what is left of this one cuts it.
      while (clock < end && next < held.length && held[next]!.clock < end) {
        const cut = held[next]!
        if (cut.clock > clock) left.push({ clock, len: cut.clock - clock })
        clock = Math.max(clock, cut.clock + cut.len)
        if (cut.clock + cut.len <= end) next++
        else break
      }
      if (clock < end) left.push({ clock, len: end - clock })
    }
    if (left.length > 0) difference.clients.set(client, left)
  }
  return difference
}

/** What Y.encodeSnapshot writes around a delete set's clients: their count, at most 5 bytes, and an empty state vector. */
const snapshotOverheadBytes = 6
/** A client's header: its id (at most 53 bits, 8 bytes) and its range count (at most 5 bytes). */
const clientHeaderBytes = 13
/** A range: its clock and its length, at most 53 bits, 8 bytes, each. */
const maxRangeBytes = 16

/**
 * `ds` cut, in order, into delete sets that Y.encodeSnapshot writes in at most `maxBytes` each (with an empty
 * state vector, as encodeDurableQuery does). Headers are counted at their longest, ranges at their length.
 */
export function splitDeleteSet(ds: DeleteSet, maxBytes: number): DeleteSet[] {
  if (maxBytes < snapshotOverheadBytes + clientHeaderBytes + maxRangeBytes) throw new Error(`no delete set fits in ${maxBytes} bytes`)
  const parts: DeleteSet[] = []
  let part = Y.createDeleteSet()
  let bytes = snapshotOverheadBytes
  for (const [client, ranges] of ds.clients) {
    let inPart: typeof ranges | null = null
    for (const range of ranges) {
      const rangeBytes = varUintBytes(range.clock) + varUintBytes(range.len)
      if (bytes + (inPart ? 0 : clientHeaderBytes) + rangeBytes > maxBytes) {
        parts.push(part)
        part = Y.createDeleteSet()
        bytes = snapshotOverheadBytes
        inPart = null
      }
      if (!inPart) {
        inPart = []
        part.clients.set(client, inPart)
        bytes += clientHeaderBytes
      }
      inPart.push(range)
      bytes += rangeBytes
    }
  }
  if (part.clients.size > 0) parts.push(part)
  return parts
}

/** Bytes of lib0's variable-length encoding of `n`: 7 bits a byte. */
function varUintBytes(n: number): number {
  let bytes = 1
  for (let rest = Math.floor(n / 128); rest > 0; rest = Math.floor(rest / 128)) bytes++
  return bytes
}
