import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { decodeWhole } from './decode-whole.js'

/** Bytes of a document digest (see docs/doc-digest.ts), as items carry it on the wire. */
export const digestBytes = 16

export interface Item {
  name: string
  digest: Uint8Array
}

/** The exclusive upper end of a range of names; null is +infinity. A lower end of '' is -infinity. */
export type UpperBound = string | null

/**
 * Bytes of a range fingerprint. A collision hides a difference from a session, and from every later one until
 * either side's items in that range change. A session compares at most tens of thousands of fingerprints of
 * ranges that differ, so with 8 bytes a miss is about 2^-64 × 10^5 ≈ 10^-14 likely per session; with 4 bytes it
 * would happen about once in 40,000 sessions.
 */
export const fingerprintBytes = 8
/** Longest item name, in UTF-8 bytes: longer than any valid document name. */
export const maxItemNameBytes = 1024

/** Bounds a decoder accepts and a reply keeps to, so that a peer cannot make this node allocate without limit. */
export const maxRangesPerMessage = 100_000
/** Keeps a message under the peer link's 16 MiB frames even when every name is a 512-byte document name. */
export const maxListedItemsPerMessage = 20_000

export class MalformedReconcileMessageError extends Error {
  override name = 'MalformedReconcileMessageError'
}

/**
 * A message of range-based set reconciliation (Meyer; the Negentropy protocol): consecutive ranges that cover
 * every name, each with its exclusive upper bound, and what the sender has to say about it. A range's lower
 * bound is the previous range's upper bound ('' for the first); the last upper bound is null (+infinity).
 */
export type WireRange =
  /** Nothing more to do here. */
  | { mode: 'skip'; upper: UpperBound }
  /** The sender's fingerprint and count of its items in the range. */
  | { mode: 'fingerprint'; upper: UpperBound; fingerprint: Uint8Array; count: number }
  /** The sender's items in the range, in order. */
  | { mode: 'list'; upper: UpperBound; items: Item[] }

export function isHighSurrogate(codeUnit: number): boolean {
  return codeUnit >= 0xd800 && codeUnit <= 0xdbff
}

/** Wire numbers of the range modes, and the protocol version: part of the wire format, never renumber. */
const protocolVersion = 1
const RangeMode = {
  skip: 0,
  fingerprint: 1,
  list: 2,
} as const

const utf8Encoder = new TextEncoder()
// Strict, so that two different byte strings never decode to the same name.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * A version, then per range: its upper bound, its mode and the mode's payload. Bounds and listed names are
 * written as the number of UTF-16 code units they share with the previous bound or name, then the rest in
 * UTF-8; neighbouring names share most of their length.
 */
export function encodeReconcileMessage(ranges: readonly WireRange[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, protocolVersion)
  let lower = ''
  for (const range of ranges) {
    writeBound(encoder, lower, range.upper)
    encoding.writeVarUint(encoder, RangeMode[range.mode])
    switch (range.mode) {
      case 'skip':
        break
      case 'fingerprint':
        encoding.writeUint8Array(encoder, range.fingerprint)
        encoding.writeVarUint(encoder, range.count)
        break
      case 'list': {
        encoding.writeVarUint(encoder, range.items.length)
        let previous = lower
        for (const item of range.items) {
          writeAfterSharedPrefix(encoder, previous, item.name, 0)
          encoding.writeUint8Array(encoder, item.digest)
          previous = item.name
        }
        break
      }
    }
    if (range.upper !== null) lower = range.upper
  }
  return encoding.toUint8Array(encoder)
}

/**
 * Throws MalformedReconcileMessageError for truncation, trailing bytes, an unknown version or mode, bounds
 * that do not increase, listed names out of order or outside their range, a wrong-sized field, names that
 * are not UTF-8 or longer than maxItemNameBytes, and more ranges or listed items than the limits.
 */
export function decodeReconcileMessage(message: Uint8Array): WireRange[] {
  return decodeWhole(message, readRanges, MalformedReconcileMessageError, 'reconcile message')
}

function readRanges(decoder: decoding.Decoder): WireRange[] {
  const version = decoding.readVarUint(decoder)
  if (version !== protocolVersion) throw new MalformedReconcileMessageError(`unknown protocol version ${version}`)
  const ranges: WireRange[] = []
  let lower = ''
  let listedItems = 0
  for (;;) {
    if (ranges.length === maxRangesPerMessage) throw new MalformedReconcileMessageError(`more than ${maxRangesPerMessage} ranges`)
    const upper = readBound(decoder, lower)
    const range = readRange(decoder, lower, upper, maxListedItemsPerMessage - listedItems)
    if (range.mode === 'list') listedItems += range.items.length
    ranges.push(range)
    if (upper === null) return ranges
    lower = upper
  }
}

/** 0 for +infinity, else 1 + the code units shared with the previous bound. */
function writeBound(encoder: encoding.Encoder, previous: string, bound: UpperBound): void {
  if (bound === null) encoding.writeVarUint(encoder, 0)
  else writeAfterSharedPrefix(encoder, previous, bound, 1)
}

function readBound(decoder: decoding.Decoder, lower: string): UpperBound {
  const tag = decoding.readVarUint(decoder)
  if (tag === 0) return null
  const bound = readAfterSharedPrefix(decoder, lower, tag - 1)
  if (bound <= lower) throw new MalformedReconcileMessageError('range bounds must increase')
  return bound
}

function readRange(decoder: decoding.Decoder, lower: string, upper: UpperBound, listRoom: number): WireRange {
  const mode = decoding.readVarUint(decoder)
  switch (mode) {
    case RangeMode.skip:
      return { mode: 'skip', upper }
    case RangeMode.fingerprint:
      return {
        mode: 'fingerprint',
        upper,
        fingerprint: decoding.readUint8Array(decoder, fingerprintBytes),
        count: decoding.readVarUint(decoder),
      }
    case RangeMode.list:
      return { mode: 'list', upper, items: readItems(decoder, lower, upper, listRoom) }
    default:
      throw new MalformedReconcileMessageError(`unknown range mode ${mode}`)
  }
}

function readItems(decoder: decoding.Decoder, lower: string, upper: UpperBound, room: number): Item[] {
  const count = decoding.readVarUint(decoder)
  if (count > room) throw new MalformedReconcileMessageError(`more than ${maxListedItemsPerMessage} listed items`)
  const items: Item[] = []
  let previous = lower
  for (let i = 0; i < count; i++) {
    const name = readAfterSharedPrefix(decoder, previous, decoding.readVarUint(decoder))
    const inOrder = i === 0 ? name >= lower : name > previous
    if (!inOrder || (upper !== null && name >= upper)) {
      throw new MalformedReconcileMessageError('listed names must increase and stay within their range')
    }
    items.push({ name, digest: decoding.readUint8Array(decoder, digestBytes) })
    previous = name
  }
  return items
}

function writeAfterSharedPrefix(encoder: encoding.Encoder, previous: string, value: string, tagOffset: number): void {
  let shared = 0
  const most = Math.min(previous.length, value.length)
  while (shared < most && previous.charCodeAt(shared) === value.charCodeAt(shared)) shared++
  // The rest goes as UTF-8, which cannot start with the second half of a surrogate pair.
  if (shared > 0 && isHighSurrogate(value.charCodeAt(shared - 1))) shared--
  encoding.writeVarUint(encoder, shared + tagOffset)
  encoding.writeVarUint8Array(encoder, utf8Encoder.encode(value.slice(shared)))
}

function readAfterSharedPrefix(decoder: decoding.Decoder, previous: string, shared: number): string {
  if (shared > previous.length) throw new MalformedReconcileMessageError('shared prefix longer than the previous name')
  if (shared > 0 && isHighSurrogate(previous.charCodeAt(shared - 1))) {
    throw new MalformedReconcileMessageError('shared prefix ends inside a surrogate pair')
  }
  const rest = decoding.readVarUint8Array(decoder)
  if (rest.byteLength > maxItemNameBytes) throw new MalformedReconcileMessageError(`name longer than ${maxItemNameBytes} bytes`)
  const value = previous.slice(0, shared) + utf8Decoder.decode(rest)
  if (Buffer.byteLength(value, 'utf8') > maxItemNameBytes) {
    throw new MalformedReconcileMessageError(`name longer than ${maxItemNameBytes} bytes`)
  }
  return value
}
