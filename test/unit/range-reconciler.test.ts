import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { describe, expect, test } from 'vitest'
import {
  decodeReconcileMessage,
  encodeReconcileMessage,
  MalformedReconcileMessageError,
  maxItemNameBytes,
  maxListedItemsPerMessage,
  maxRangesPerMessage,
  type UpperBound,
  type WireRange,
} from '../../src/protocol/range-codec.js'
import { itemHash } from '../../src/replication/item-hash.js'
import { compareNames, ItemSet } from '../../src/replication/item-set.js'
import { RangeReconciler, type RangeReconcilerOptions } from '../../src/replication/range-reconciler.js'

interface Session {
  differing: Set<string>
  messages: number
  roundTrips: number
  bytes: number
}

/** Runs a session to its end, alternating receive calls, as two nodes would over a reliable link. */
function reconcile(initiator: ItemSet, responder: ItemSet, options: Partial<RangeReconcilerOptions> = {}): Session {
  const sides = [new RangeReconciler(initiator, options), new RangeReconciler(responder, options)] as const
  const session: Session = { differing: new Set(), messages: 0, roundTrips: 0, bytes: 0 }
  let message: Uint8Array | null = sides[0].initiate()
  for (let to = 1; message !== null; to = 1 - to) {
    session.messages++
    session.bytes += message.byteLength
    if (session.messages > 100) throw new Error('the session does not end')
    const step = sides[to]!.receive(message)
    for (const name of step.differing) session.differing.add(name)
    message = step.reply
  }
  session.roundTrips = Math.ceil(session.messages / 2)
  return session
}

const digestOf = (seed: number) => new Uint8Array(16).fill(seed)

/** Code units that stress the order: ASCII, BMP letters, U+E000 (after surrogates in UTF-16), astral pairs. */
const nameChar = fc.constantFrom('a', 'b', 'z', '0', '/', '-', 'é', '€', '\uE000', '\uFFFD', '😀', '😁', '𝄞')
const name = fc
  .tuple(fc.constantFrom('', 'team-12/', 'team-12/notes-47', 'x'.repeat(300), '😀😀'), fc.array(nameChar, { maxLength: 6 }))
  .map(([prefix, chars]) => prefix + chars.join(''))
  .filter((n) => n.length > 0)

type Fate = 'same' | 'changed' | 'onlyInitiator' | 'onlyResponder'
const divergedSets = fc
  .uniqueArray(fc.record({ name, fate: fc.constantFrom<Fate>('same', 'same', 'changed', 'onlyInitiator', 'onlyResponder'), digest: fc.nat(3) }), {
    selector: (entry) => entry.name,
    maxLength: 80,
  })
  .map((entries) => {
    const initiator = new ItemSet()
    const responder = new ItemSet()
    for (const { name, fate, digest } of entries) {
      if (fate !== 'onlyResponder') initiator.set(name, digestOf(digest))
      if (fate === 'same' || fate === 'onlyResponder') responder.set(name, digestOf(digest))
      if (fate === 'changed') responder.set(name, digestOf(digest + 10))
    }
    const expected = entries.filter((e) => e.fate !== 'same').map((e) => e.name)
    return { initiator, responder, expected }
  })

/** Small options take sessions of a few dozen items through many levels of splitting. */
const options = fc.oneof(
  fc.constant<Partial<RangeReconcilerOptions>>({}),
  fc.record({ branching: fc.integer({ min: 2, max: 6 }), listThreshold: fc.integer({ min: 1, max: 4 }) }),
)

function syntheticSet(count: number, digestSeed = 0): ItemSet {
  const set = new ItemSet()
  const names = Array.from({ length: count }, (_, i) => `team-${i % 97}/notes-${i}`).sort(compareNames)
  for (const n of names) set.set(n, digestOf(digestSeed))
  return set
}

describe('range-based set reconciliation', () => {
  test('the differing names found by both sides are exactly the symmetric difference', () => {
    fc.assert(
      fc.property(divergedSets, options, ({ initiator, responder, expected }, opts) => {
        const session = reconcile(initiator, responder, opts)
        expect([...session.differing].sort()).toEqual(expected.sort())
      }),
      { numRuns: 300 },
    )
  })

  test('identical sets reconcile in one round trip and at most 100 bytes', () => {
    const sameSets = divergedSets.map(({ initiator }) => initiator)
    fc.assert(
      fc.property(sameSets, options, (set, opts) => {
        const session = reconcile(set, set, opts)
        expect(session.differing.size).toBe(0)
        expect(session.messages).toBe(2)
        expect(session.bytes).toBeLessThanOrEqual(100)
      }),
    )
    const large = reconcile(syntheticSet(20_000), syntheticSet(20_000))
    expect(large.messages).toBe(2)
    expect(large.bytes).toBeLessThanOrEqual(100)
  })

  test('the responder answers a first message of equal sets with skips, and the initiator then stops', () => {
    const set = syntheticSet(50)
    const initiator = new RangeReconciler(set)
    const responder = new RangeReconciler(set)
    const answer = responder.receive(initiator.initiate())
    expect(answer.reply).not.toBeNull()
    expect(decodeReconcileMessage(answer.reply!)).toEqual([{ mode: 'skip', upper: null }])
    expect(initiator.receive(answer.reply!)).toEqual({ reply: null, differing: [] })
  })

  test('a few differing documents among 20,000 cost at most 3 round trips and 2 KB each', () => {
    for (const k of [1, 10, 60]) {
      const initiator = syntheticSet(20_000)
      const responder = syntheticSet(20_000)
      const names = [...initiator.names()]
      const expected: string[] = []
      for (let i = 0; i < k; i++) {
        const changed = names[(i * 7919) % names.length]!
        if (i % 3 === 0) responder.set(changed, digestOf(1))
        if (i % 3 === 1) responder.delete(changed)
        if (i % 3 === 2) initiator.delete(changed)
        expected.push(changed)
      }
      const session = reconcile(initiator, responder)
      expect([...session.differing].sort()).toEqual(expected.sort())
      expect(session.roundTrips).toBeLessThanOrEqual(3)
      expect(session.bytes / k).toBeLessThanOrEqual(2048)
    }
  })

  test('against an empty side, every item differs and the bytes stay independent of the count', () => {
    const full = syntheticSet(5_000)
    for (const [initiator, responder] of [
      [full, new ItemSet()],
      [new ItemSet(), full],
    ] as const) {
      const session = reconcile(initiator, responder)
      expect(session.differing.size).toBe(5_000)
      expect(session.roundTrips).toBeLessThanOrEqual(2)
      expect(session.bytes).toBeLessThanOrEqual(100)
    }
  })

  test('names sharing long prefixes and astral characters keep their order across the wire', () => {
    const initiator = new ItemSet()
    const responder = new ItemSet()
    const prefix = 'p'.repeat(900)
    for (let i = 0; i < 300; i++) {
      const n = `${prefix}${String.fromCodePoint(0x1f600 + (i % 40))}${i}`
      initiator.set(n, digestOf(0))
      responder.set(n, digestOf(i % 50 === 0 ? 1 : 0))
    }
    responder.set(`${prefix}\uE000`, digestOf(0))
    const session = reconcile(initiator, responder, { branching: 3, listThreshold: 2 })
    expect(session.differing.size).toBe(7)
    expect(session.differing.has(`${prefix}\uE000`)).toBe(true)
  })

  test('a set filled in name order with kept item hashes fingerprints every range as one filled in any order that hashes them', () => {
    // What a peer of any version computes: the hash input is unchanged since items were first hashed.
    expect(Buffer.from(itemHash('team-12/notes-47', digestOf(7))).toString('hex')).toBe('f4839f1bc6c40699710e750957044898')
    const pinned = new ItemSet()
    for (const [name, digest] of [['a', 1], ['team-12/notes-47', 7], ['😀', 2]] as const) pinned.set(name, digestOf(digest), itemHash(name, digestOf(digest)))
    expect(Buffer.from(pinned.fingerprintAll()).toString('hex')).toBe('ebcbef439ae2d26f')
    expect(Buffer.from(pinned.fingerprint('b', null)).toString('hex')).toBe('184fc9c05e84cc56')
    const entries = fc.uniqueArray(fc.record({ name, digest: fc.nat(3) }), { selector: (entry) => entry.name, maxLength: 60 })
    fc.assert(
      fc.property(entries, fc.array(fc.tuple(name, name)), (items, ranges) => {
        const restarted = new ItemSet()
        for (const { name, digest } of [...items].sort((a, b) => compareNames(a.name, b.name))) restarted.set(name, digestOf(digest), itemHash(name, digestOf(digest)))
        const live = new ItemSet()
        for (const { name, digest } of items) live.set(name, digestOf(digest))
        for (const [lower, upper] of [['', null] as const, ...ranges]) {
          expect(Buffer.from(restarted.fingerprint(lower, upper))).toEqual(Buffer.from(live.fingerprint(lower, upper)))
          expect(restarted.items(lower, upper)).toEqual(live.items(lower, upper))
        }
      }),
    )
  })

  test('options that could not end a session are refused', () => {
    expect(() => new RangeReconciler(new ItemSet(), { listThreshold: 0 })).toThrow(RangeError)
    expect(() => new RangeReconciler(new ItemSet(), { branching: 1 })).toThrow(RangeError)
  })
})

/** Sorted names, some of them bounds of the ranges and some listed items. */
const wireRanges: fc.Arbitrary<WireRange[]> = fc
  .uniqueArray(fc.record({ name, role: fc.constantFrom('bound', 'item', 'item'), mode: fc.constantFrom('skip', 'fingerprint', 'list') }), {
    selector: (entry) => entry.name,
    maxLength: 40,
  })
  .chain((entries) =>
    fc.tuple(fc.constant(entries.sort((a, b) => compareNames(a.name, b.name))), fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.nat()),
  )
  .map(([entries, fingerprint, count]) => {
    const ranges: WireRange[] = []
    let items: { name: string; digest: Uint8Array }[] = []
    const close = (upper: UpperBound, mode: string) => {
      if (mode === 'list') ranges.push({ mode: 'list', upper, items })
      else if (mode === 'fingerprint') ranges.push({ mode: 'fingerprint', upper, fingerprint, count })
      else ranges.push({ mode: 'skip', upper })
      items = []
    }
    for (const entry of entries) {
      if (entry.role === 'bound') close(entry.name, entry.mode)
      else items.push({ name: entry.name, digest: digestOf(entry.name.length % 7) })
    }
    close(null, entries.at(-1)?.mode ?? 'list')
    return ranges
  })

function rawMessage(write: (encoder: encoding.Encoder) => void): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 1)
  write(encoder)
  return encoding.toUint8Array(encoder)
}

describe('reconcile messages', () => {
  test('round-trip through encode and decode', () => {
    fc.assert(
      fc.property(wireRanges, (ranges) => {
        expect(decodeReconcileMessage(encodeReconcileMessage(ranges))).toEqual(ranges)
      }),
    )
  })

  test('a message cut anywhere is malformed', () => {
    fc.assert(
      fc.property(wireRanges, fc.nat(), (ranges, cut) => {
        const message = encodeReconcileMessage(ranges)
        expect(() => decodeReconcileMessage(message.subarray(0, cut % message.length))).toThrow(MalformedReconcileMessageError)
      }),
    )
  })

  test('random or corrupted bytes are malformed or harmless, never a crash or a hang', () => {
    const set = syntheticSet(200)
    const valid = new RangeReconciler(syntheticSet(300, 1)).receive(new RangeReconciler(set).initiate()).reply!
    const corrupted = fc
      .tuple(fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([at, byte]) => Uint8Array.from(valid, (b, i) => (i === at % valid.length ? byte : b)))
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), corrupted), (bytes) => {
        try {
          new RangeReconciler(set).receive(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedReconcileMessageError)
        }
      }),
      { numRuns: 1000 },
    )
  })

  test('trailing bytes, an unknown version or mode, and wrong-sized fields are malformed', () => {
    const skipAll = encodeReconcileMessage([{ mode: 'skip', upper: null }])
    expect(() => decodeReconcileMessage(Uint8Array.of(...skipAll, 0))).toThrow(/trailing bytes/)
    expect(() => decodeReconcileMessage(Uint8Array.of(2, 0, 0))).toThrow(/unknown protocol version 2/)
    const unknownMode = rawMessage((e) => {
      encoding.writeVarUint(e, 0)
      encoding.writeVarUint(e, 7)
    })
    expect(() => decodeReconcileMessage(unknownMode)).toThrow(/unknown range mode 7/)
    const shortFingerprint = rawMessage((e) => {
      encoding.writeVarUint(e, 0)
      encoding.writeVarUint(e, 1)
      encoding.writeUint8Array(e, new Uint8Array(7))
    })
    expect(() => decodeReconcileMessage(shortFingerprint)).toThrow(MalformedReconcileMessageError)
  })

  test('bounds that do not increase and listed names outside their range are malformed', () => {
    const fingerprint = new Uint8Array(8)
    const decreasing: WireRange[] = [
      { mode: 'skip', upper: 'b' },
      { mode: 'skip', upper: 'a' },
      { mode: 'skip', upper: null },
    ]
    expect(() => decodeReconcileMessage(encodeReconcileMessage(decreasing))).toThrow(/bounds must increase/)
    const outside: WireRange[] = [
      { mode: 'fingerprint', upper: 'm', fingerprint, count: 1 },
      { mode: 'list', upper: null, items: [{ name: 'a', digest: digestOf(0) }] },
    ]
    expect(() => decodeReconcileMessage(encodeReconcileMessage(outside))).toThrow(/within their range/)
    const unordered: WireRange[] = [
      {
        mode: 'list',
        upper: null,
        items: [
          { name: 'b', digest: digestOf(0) },
          { name: 'a', digest: digestOf(0) },
        ],
      },
    ]
    expect(() => decodeReconcileMessage(encodeReconcileMessage(unordered))).toThrow(/must increase/)
  })

  test('names that are not UTF-8, too long, or split a surrogate pair are malformed', () => {
    const notUtf8 = rawMessage((e) => {
      encoding.writeVarUint(e, 1)
      encoding.writeVarUint8Array(e, Uint8Array.of(0xff))
      encoding.writeVarUint(e, 0)
    })
    expect(() => decodeReconcileMessage(notUtf8)).toThrow(MalformedReconcileMessageError)
    const tooLong: WireRange[] = [{ mode: 'skip', upper: 'a'.repeat(maxItemNameBytes + 1) }, { mode: 'skip', upper: null }]
    expect(() => decodeReconcileMessage(encodeReconcileMessage(tooLong))).toThrow(/longer than 1024 bytes/)
    const halfPair = rawMessage((e) => {
      encoding.writeVarUint(e, 1)
      encoding.writeVarString(e, '😀')
      encoding.writeVarUint(e, 0)
      encoding.writeVarUint(e, 2) // shares one code unit: the high surrogate alone
      encoding.writeVarString(e, 'a')
      encoding.writeVarUint(e, 0)
    })
    expect(() => decodeReconcileMessage(halfPair)).toThrow(/surrogate pair/)
  })

  test('more ranges or listed items than the limits are malformed', () => {
    const ranges: WireRange[] = Array.from({ length: maxRangesPerMessage }, (_, i) => ({
      mode: 'skip',
      upper: String(i).padStart(6, '0'),
    }))
    ranges.push({ mode: 'skip', upper: null })
    expect(() => decodeReconcileMessage(encodeReconcileMessage(ranges))).toThrow(/more than 100000 ranges/)
    const items = Array.from({ length: maxListedItemsPerMessage + 1 }, (_, i) => ({ name: String(i).padStart(6, '0'), digest: digestOf(0) }))
    expect(() => decodeReconcileMessage(encodeReconcileMessage([{ mode: 'list', upper: null, items }]))).toThrow(/listed items/)
  })
})

describe('ItemSet', () => {
  const entries = fc.uniqueArray(fc.record({ name, digest: fc.nat(3) }), { selector: (e) => e.name, maxLength: 60 })
  const bound = fc.oneof(name, fc.constant(''))

  test('names are in plain string order, UTF-16 code units', () => {
    fc.assert(
      fc.property(entries, (list) => {
        const set = new ItemSet()
        for (const e of list) set.set(e.name, digestOf(e.digest))
        expect([...set.names()]).toEqual(list.map((e) => e.name).sort())
      }),
    )
    expect(compareNames('\uE000', '😀')).toBe(1)
  })

  test('the fingerprint of a range does not depend on insertion order or history', () => {
    fc.assert(
      fc.property(entries.chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length }))), ([list, order]) => {
        const forwards = new ItemSet()
        const shuffled = new ItemSet()
        for (const e of list) forwards.set(e.name, digestOf(e.digest))
        for (const e of order) {
          shuffled.set(e.name, digestOf(e.digest + 1))
          shuffled.set(`${e.name}~gone`, digestOf(0))
        }
        for (const e of order) {
          shuffled.delete(`${e.name}~gone`)
          shuffled.set(e.name, digestOf(e.digest))
        }
        expect(shuffled.wholeSetFingerprintHex()).toBe(forwards.wholeSetFingerprintHex())
      }),
    )
  })

  test('count, items and fingerprint of a range agree with the items in it', () => {
    fc.assert(
      fc.property(entries, bound, fc.option(name, { nil: null }), (list, lower, upper) => {
        const set = new ItemSet()
        for (const e of list) set.set(e.name, digestOf(e.digest))
        const inside = list.filter((e) => e.name >= lower && (upper === null || e.name < upper)).sort((a, b) => compareNames(a.name, b.name))
        const alone = new ItemSet()
        for (const e of inside) alone.set(e.name, digestOf(e.digest))
        expect(set.count(lower, upper)).toBe(inside.length)
        expect(set.items(lower, upper).map((i) => i.name)).toEqual(inside.map((e) => e.name))
        expect(set.fingerprint(lower, upper)).toEqual(alone.fingerprintAll())
      }),
    )
  })

  test('a range splits into non-empty sub-ranges of near-equal counts that cover it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 2, max: 30 }), (count, parts) => {
        const set = syntheticSet(count)
        const bounds = set.splitRange('', null, parts)
        expect(bounds.at(-1)).toBeNull()
        expect(bounds.length).toBe(Math.max(1, Math.min(parts, count)))
        const share = count / bounds.length
        let lower = ''
        let covered = 0
        for (const upper of bounds) {
          const n = set.count(lower, upper)
          if (count > 0) expect(Math.abs(n - share)).toBeLessThanOrEqual(2 * Math.floor(share / 8) + 1)
          covered += n
          if (upper !== null) lower = upper
        }
        expect(covered).toBe(count)
      }),
    )
  })

  test('deleting and reading items', () => {
    const set = new ItemSet()
    set.set('a', digestOf(1))
    set.set('b', digestOf(2))
    expect(set.get('a')).toEqual(digestOf(1))
    expect(set.has('c')).toBe(false)
    expect(set.delete('a')).toBe(true)
    expect(set.delete('a')).toBe(false)
    expect(set.size).toBe(1)
    expect(set.fingerprintAll()).toEqual(set.fingerprint('', null))
  })

  test('names UTF-8 cannot carry, long names and wrong-sized digests are refused', () => {
    const set = new ItemSet()
    expect(() => set.set('a\uD800', digestOf(0))).toThrow(/well-formed/)
    expect(() => set.set('a'.repeat(maxItemNameBytes + 1), digestOf(0))).toThrow(/longer than/)
    expect(() => set.set('a', new Uint8Array(15))).toThrow(/digest is 15 bytes/)
  })
})
