import {
  encodeReconcileMessage,
  decodeReconcileMessage,
  maxListedItemsPerMessage,
  maxRangesPerMessage,
  type Item,
  type UpperBound,
  type WireRange,
} from '../protocol/range-codec.js'
import { bytesEqual, type ItemSet } from './item-set.js'

export interface RangeReconcilerOptions {
  /** Sub-ranges a differing range is split into. */
  branching: number
  /** A differing range with at most this many items on this side is answered with the items themselves. */
  listThreshold: number
}

/**
 * Chosen with benchmarks/scenarios/reconciliation.ts (figures in benchmarks/RESULTS.md). Level 1 takes 1 + s + 1 messages
 * when a differing range is split s times before a side holds at most listThreshold of its items. Level 2 needs 3
 * more (state vectors, deltas, deltas back), so for a whole session to fit in 4 round trips level 1 must end
 * within 5 messages: branching³ × listThreshold must exceed N, with room for uneven splits. Per differing document
 * each split costs `branching` fingerprint ranges (~15 bytes each) and the end a list of up to listThreshold
 * items (~25 bytes each), which is cheapest near branching 20–24. With (24, 16), level 1 ends within 5 messages up
 * to ~150,000 items; one differing document in 100,000 costs ~1.3 KB, each of 100 ~0.6 KB. The suggested (16, 16)
 * needs 6 messages at 100,000.
 */
export const defaultRangeReconcilerOptions: RangeReconcilerOptions = { branching: 24, listThreshold: 16 }

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
