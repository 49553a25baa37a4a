import { createHash } from 'node:crypto'
import * as encoding from 'lib0/encoding'
import { digestBytes, fingerprintBytes, isHighSurrogate, maxItemNameBytes, type Item, type UpperBound } from '../protocol/range-codec.js'
import { itemHash, itemHashBytes } from './item-hash.js'

/** Plain JS string order (UTF-16 code units): both peers sort the same way, whatever the platform. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

const laneCount = 4

/**
 * The (name, digest) items that anti-entropy reconciles, sorted by name, with range queries over half-open
 * ranges [lower, upper). Each item's hash (item-hash.ts) is taken once, when it is set, as four uint32 lanes; a range's
 * fingerprint adds the lanes of its items mod 2^32, which does not depend on their order, and hashes that sum
 * with the count. Names are kept in a sorted array: names come and go rarely compared with digests, which
 * change in place.
 */
export class ItemSet {
  private readonly sortedNames: string[] = []
  // Digests and lanes of item i at [i * width, (i + 1) * width) of one array each: a million documents' digests
  // as separate arrays would be a million objects, each several times the size of its 16 bytes.
  private digests = new Uint8Array(digestBytes * 64)
  private hashLanes = new Uint32Array(laneCount * 64)

  get size(): number {
    return this.sortedNames.length
  }

  /**
   * Adds an item or replaces its digest; `hash` is its item hash when already known (kept in storage). Throws for
   * a name that UTF-8 cannot carry or a wrong-sized digest or hash. Cheapest in name order, as a restart adds them.
   */
  set(name: string, digest: Uint8Array, hash?: Uint8Array): void {
    if (digest.byteLength !== digestBytes) throw new Error(`digest is ${digest.byteLength} bytes; expected ${digestBytes}`)
    if (hash && hash.byteLength !== itemHashBytes) throw new Error(`item hash is ${hash.byteLength} bytes; expected ${itemHashBytes}`)
    // Hashes and the wire see names as UTF-8, where a lone surrogate would merge with U+FFFD.
    if (!name.isWellFormed()) throw new Error(`name ${JSON.stringify(name)} is not well-formed UTF-16`)
    if (Buffer.byteLength(name, 'utf8') > maxItemNameBytes) throw new Error(`name is longer than ${maxItemNameBytes} bytes`)
    const last = this.sortedNames[this.size - 1]
    const at = last === undefined || last < name ? this.size : this.indexOf(name)
    if (this.sortedNames[at] === name) {
      if (bytesEqual(this.digestView(at), digest)) return
    } else {
      if (laneCount * (this.size + 1) > this.hashLanes.length) this.grow()
      if (at === this.size) {
        this.sortedNames.push(name)
      } else {
        this.digests.copyWithin(digestBytes * (at + 1), digestBytes * at, digestBytes * this.size)
        this.hashLanes.copyWithin(laneCount * (at + 1), laneCount * at, laneCount * this.size)
        this.sortedNames.splice(at, 0, name)
      }
    }
    this.digests.set(digest, digestBytes * at)
    writeLanes(hash ?? itemHash(name, digest), this.hashLanes, laneCount * at)
  }

  delete(name: string): boolean {
    const at = this.indexOf(name)
    if (this.sortedNames[at] !== name) return false
    this.digests.copyWithin(digestBytes * at, digestBytes * (at + 1), digestBytes * this.size)
    this.hashLanes.copyWithin(laneCount * at, laneCount * (at + 1), laneCount * this.size)
    this.sortedNames.splice(at, 1)
    return true
  }

  /** A copy of the item's digest. */
  get(name: string): Uint8Array | undefined {
    const at = this.indexOf(name)
    return this.sortedNames[at] === name ? this.digestView(at).slice() : undefined
  }

  has(name: string): boolean {
    const at = this.indexOf(name)
    return this.sortedNames[at] === name
  }

  /** Every name in order: a copy, so the set may change while it is read. */
  names(): Iterable<string> {
    return this.sortedNames.slice()
  }

  count(lower: string, upper: UpperBound): number {
    const [from, to] = this.indexRange(lower, upper)
    return to - from
  }

  items(lower: string, upper: UpperBound): Item[] {
    const [from, to] = this.indexRange(lower, upper)
    const items: Item[] = []
    for (let i = from; i < to; i++) items.push({ name: this.sortedNames[i]!, digest: this.digestView(i).slice() })
    return items
  }

  fingerprint(lower: string, upper: UpperBound): Uint8Array {
    const [from, to] = this.indexRange(lower, upper)
    let a = 0
    let b = 0
    let c = 0
    let d = 0
    const lanes = this.hashLanes
    for (let i = laneCount * from, end = laneCount * to; i < end; i += laneCount) {
      a = (a + lanes[i]!) >>> 0
      b = (b + lanes[i + 1]!) >>> 0
      c = (c + lanes[i + 2]!) >>> 0
      d = (d + lanes[i + 3]!) >>> 0
    }
    const encoder = encoding.createEncoder()
    for (const lane of [a, b, c, d]) encoding.writeUint32(encoder, lane)
    encoding.writeVarUint(encoder, to - from)
    return new Uint8Array(createHash('sha256').update(encoding.toUint8Array(encoder)).digest().subarray(0, fingerprintBytes))
  }

  fingerprintAll(): Uint8Array {
    return this.fingerprint('', null)
  }

  /** The whole set's fingerprint in hex: equal on two nodes when they hold the same items. */
  wholeSetFingerprintHex(): string {
    return Buffer.from(this.fingerprintAll()).toString('hex')
  }

  /**
   * Upper bounds of up to `parts` consecutive sub-ranges of [lower, upper) of near-equal counts; every sub-range
   * holds at least one item, and the last bound is `upper`. A bound between two items is the shortest prefix of
   * the later name that still sorts after the earlier one, and each cut may move by an eighth of a sub-range to
   * where that prefix is shortest: bounds are most of what a range costs on the wire.
   */
  splitRange(lower: string, upper: UpperBound, parts: number): UpperBound[] {
    const [from, to] = this.indexRange(lower, upper)
    const count = to - from
    const used = Math.min(parts, count)
    const slack = Math.floor(count / used / 8)
    const bounds: UpperBound[] = []
    for (let i = 1; i < used; i++) bounds.push(this.shortestBoundNear(from + Math.floor((i * count) / used), slack))
    bounds.push(upper)
    return bounds
  }

  /** The shortest bound between items at - 1 and at, for `at` up to `slack` away; the nearest of equal length. */
  private shortestBoundNear(at: number, slack: number): string {
    let best = this.boundBefore(at)
    for (let distance = 1; distance <= slack; distance++) {
      for (const candidate of [at - distance, at + distance]) {
        const bound = this.boundBefore(candidate)
        if (bound.length < best.length) best = bound
      }
    }
    return best
  }

  private boundBefore(at: number): string {
    return separatingPrefix(this.sortedNames[at - 1]!, this.sortedNames[at]!)
  }

  private digestView(at: number): Uint8Array {
    return this.digests.subarray(digestBytes * at, digestBytes * (at + 1))
  }

  private grow(): void {
    const digests = new Uint8Array(this.digests.length * 2)
    digests.set(this.digests)
    this.digests = digests
    const lanes = new Uint32Array(this.hashLanes.length * 2)
    lanes.set(this.hashLanes)
    this.hashLanes = lanes
  }

  /** Indexes [from, to) of the items in [lower, upper); empty when upper is not above lower. */
  private indexRange(lower: string, upper: UpperBound): [number, number] {
    const from = this.indexOf(lower)
    const to = upper === null ? this.size : this.indexOf(upper)
    return [from, Math.max(from, to)]
  }

  /** The index of the first name ≥ `name`. */
  private indexOf(name: string): number {
    let low = 0
    let high = this.sortedNames.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (this.sortedNames[mid]! < name) low = mid + 1
      else high = mid
    }
    return low
  }
}

/** The item hash's bytes as four little-endian uint32 lanes, into `lanes` at `offset`. */
function writeLanes(hash: Uint8Array, lanes: Uint32Array, offset: number): void {
  for (let lane = 0, i = 0; lane < laneCount; lane++, i += 4) {
    lanes[offset + lane] = (hash[i]! | (hash[i + 1]! << 8) | (hash[i + 2]! << 16) | (hash[i + 3]! << 24)) >>> 0
  }
}

/** The shortest prefix of `after` that sorts after `before` (which sorts before `after`), never half a surrogate pair. */
function separatingPrefix(before: string, after: string): string {
  let shared = 0
  while (shared < before.length && before.charCodeAt(shared) === after.charCodeAt(shared)) shared++
  const length = isHighSurrogate(after.charCodeAt(shared)) ? shared + 2 : shared + 1
  return after.slice(0, length)
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
