import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { docDigestBytes } from '../docs/doc-digest.js'
import { decodeWhole } from '../protocol/decode-whole.js'
import { bytesEqual, fingerprintBytes, isHighSurrogate, maxItemNameBytes, type Item, type ItemSet, type UpperBound } from './item-set.js'

export interface RangeReconcilerOptions {
  /** Sub-ranges a differing range is split into. */
  branching: number
  /** A differing range with at most this many items on this side is answered with the items themselves. */
  listThreshold: number
}

/**
 * Chosen with benchmarks/reconciliation.ts (figures in benchmarks/RESULTS.md). Level 1 takes 1 + s + 1 messages
 * when a differing range is split s times before a side holds at most listThreshold of its items. Level 2 needs 3
 * more (state vectors, deltas, deltas back), so for a whole session to fit in 4 round trips level 1 must end
 * within 5 messages: branching³ × listThreshold must exceed N, with room for uneven splits. Per differing document
 * each split costs `branching` fingerprint ranges (~15 bytes each) and the end a list of up to listThreshold
 * items (~25 bytes each), which is cheapest near branching 20–24. With (24, 16), level 1 ends within 5 messages up
 * to ~150,000 items; one differing document in 100,000 costs ~1.3 KB, each of 100 ~0.6 KB. The suggested (16, 16)
 * needs 6 messages at 100,000.
 */
export const defaultRangeReconcilerOptions: RangeReconcilerOptions = { branching: 24, listThreshold: 16 }

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

export interface ReconcileStep {
  /** The message to send back, or null when the session is over on this side. */
  reply: Uint8Array | null
  /** Names found to differ in this step: on one side only, or with different digests. */
  differing: string[]
}

/**
 * One side of one reconciliation session over an ItemSet: the initiator calls `initiate` and sends its
 * result, the responder starts with `receive`; each side then sends back every reply until one is null.
 * Together, the `differing` names of both sides are exactly the names whose items differ. Pure: the caller
 * sends the messages. The set may change during a session; the outcome then reflects a mix of both states,
 * and the next session repairs what this one missed.
 */
export class RangeReconciler {
  private readonly options: RangeReconcilerOptions
  private started = false

  constructor(
    private readonly items: ItemSet,
    options: Partial<RangeReconcilerOptions> = {},
  ) {
    this.options = { ...defaultRangeReconcilerOptions, ...options }
    const { branching, listThreshold } = this.options
    if (!Number.isInteger(branching) || branching < 2) throw new RangeError(`branching must be an integer ≥ 2, not ${branching}`)
    // With no lists at all, a range of one item that differs would be split into itself forever.
    if (!Number.isInteger(listThreshold) || listThreshold < 1) {
      throw new RangeError(`listThreshold must be an integer ≥ 1, not ${listThreshold}`)
    }
  }

  /** First message of a session (initiator side): one fingerprint over the whole set. */
  initiate(): Uint8Array {
    if (this.started) throw new Error('initiate() must be the first call of a session')
    this.started = true
    return encodeReconcileMessage([this.fingerprintRange('', null)])
  }

  /** Throws MalformedReconcileMessageError for a message that does not decode; then nothing has changed. */
  receive(message: Uint8Array): ReconcileStep {
    const incoming = decodeReconcileMessage(message)
    // The responder answers the first message even when it is all skips: that is how the initiator learns
    // that the sets are equal.
    const mustAnswer = !this.started
    this.started = true
    const reply = new ReplyBuilder()
    const differing: string[] = []
    let lower = ''
    incoming.forEach((range, i) => {
      switch (range.mode) {
        case 'skip':
          reply.skip(range.upper)
          break
        case 'fingerprint':
          this.answerFingerprint(lower, range, reply, incoming.length - i - 1)
          break
        case 'list':
          differing.push(...differingNames(this.items.items(lower, range.upper), range.items))
          reply.skip(range.upper)
          break
      }
      if (range.upper !== null) lower = range.upper
    })
    return { reply: reply.onlySkips && !mustAnswer ? null : encodeReconcileMessage(reply.ranges), differing }
  }

  private answerFingerprint(
    lower: string,
    theirs: Extract<WireRange, { mode: 'fingerprint' }>,
    reply: ReplyBuilder,
    rangesAfter: number,
  ): void {
    const { upper } = theirs
    const ours = this.fingerprintRange(lower, upper)
    if (bytesEqual(ours.fingerprint, theirs.fingerprint)) return reply.skip(upper)
    const { branching, listThreshold } = this.options
    if (ours.count <= listThreshold && reply.canList(ours.count)) {
      return reply.push({ mode: 'list', upper, items: this.items.items(lower, upper) })
    }
    // Few items on their side: one fingerprint back makes them list those, for less than splitting would cost.
    // Past this message's budget, the same answer leaves the range to a later message.
    if (theirs.count <= listThreshold || !reply.canSplit(Math.min(branching, ours.count), rangesAfter)) return reply.push(ours)
    let subLower = lower
    for (const subUpper of this.items.splitRange(lower, upper, branching)) {
      reply.push(this.fingerprintRange(subLower, subUpper))
      if (subUpper !== null) subLower = subUpper
    }
  }

  private fingerprintRange(lower: string, upper: UpperBound): Extract<WireRange, { mode: 'fingerprint' }> {
    return { mode: 'fingerprint', upper, fingerprint: this.items.fingerprint(lower, upper), count: this.items.count(lower, upper) }
  }
}

class ReplyBuilder {
  readonly ranges: WireRange[] = []
  private listedItems = 0

  /** Consecutive skips merge into one. */
  skip(upper: UpperBound): void {
    const last = this.ranges.at(-1)
    if (last?.mode === 'skip') last.upper = upper
    else this.ranges.push({ mode: 'skip', upper })
  }

  push(range: WireRange): void {
    if (range.mode === 'list') this.listedItems += range.items.length
    this.ranges.push(range)
  }

  get onlySkips(): boolean {
    return this.ranges.every((range) => range.mode === 'skip')
  }

  canList(items: number): boolean {
    return this.listedItems + items <= maxListedItemsPerMessage
  }

  /** Whether `parts` ranges still leave room for one answer to each incoming range after this one. */
  canSplit(parts: number, rangesAfter: number): boolean {
    return this.ranges.length + parts + rangesAfter <= maxRangesPerMessage
  }
}

/** Names in one range that only one side has or that the two sides hold with different digests. */
function differingNames(ours: readonly Item[], theirs: readonly Item[]): string[] {
  const differing: string[] = []
  let i = 0
  let j = 0
  while (i < ours.length || j < theirs.length) {
    const mine = ours[i]
    const other = theirs[j]
    if (other === undefined || (mine !== undefined && mine.name < other.name)) {
      differing.push(mine!.name)
      i++
    } else if (mine === undefined || other.name < mine.name) {
      differing.push(other.name)
      j++
    } else {
      if (!bytesEqual(mine.digest, other.digest)) differing.push(mine.name)
      i++
      j++
    }
  }
  return differing
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
    items.push({ name, digest: decoding.readUint8Array(decoder, docDigestBytes) })
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
