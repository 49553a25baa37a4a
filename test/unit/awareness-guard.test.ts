import fc from 'fast-check'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { Awareness, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness'
import { afterEach, describe, expect, test } from 'vitest'
import {
  AwarenessGuard,
  maxAwarenessIdsPerConnection,
  maxAwarenessStateBytes,
  maxAwarenessStatesPerDoc,
  maxRefusedAwarenessIdsPerConnection,
  readAwarenessEntry,
  writeAwarenessEntry,
} from '../../src/sync/awareness-guard.js'

type Entry = [clientId: number, clock: number, state: unknown]

/** An awareness update as y-protocols encodes one, written by hand so that it can say anything. */
function updateOfJson(...entries: [clientId: number, clock: number, json: string][]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, entries.length)
  for (const [clientId, clock, json] of entries) {
    encoding.writeVarUint(encoder, clientId)
    encoding.writeVarUint(encoder, clock)
    encoding.writeVarString(encoder, json)
  }
  return encoding.toUint8Array(encoder)
}

const update = (...entries: Entry[]): Uint8Array =>
  updateOfJson(...entries.map(([clientId, clock, state]): [number, number, string] => [clientId, clock, JSON.stringify(state)]))

const awarenesses: Awareness[] = []
afterEach(() => {
  for (const awareness of awarenesses.splice(0)) awareness.destroy()
})

/** A room's awareness, as Room makes it (no state of its own), with a guard and a log of its events. */
function setUp() {
  const awareness = new Awareness(new Y.Doc())
  awareness.setLocalState(null)
  awarenesses.push(awareness)
  const events: { added: number[]; updated: number[]; removed: number[]; origin: unknown }[] = []
  awareness.on('update', (change: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) =>
    events.push({ ...change, origin }),
  )
  return { awareness, guard: new AwarenessGuard(awareness), events, stateOf: (id: number) => awareness.getStates().get(id) }
}

const alice = { name: 'alice connection' }
const mallory = { name: 'mallory connection' }
const peers = Symbol('peers')

describe('a connection owns the client ids it announces', () => {
  test('it sets, updates and removes the state of the id it announced first, with the stock events', () => {
    const { guard, events, stateOf } = setUp()
    expect(guard.applyFromClient(alice, update([1, 1, { user: 'alice' }]))).toEqual({ ok: true })
    expect(guard.applyFromClient(alice, update([1, 2, { user: 'alice', cursor: 3 }]))).toEqual({ ok: true })
    expect(stateOf(1)).toEqual({ user: 'alice', cursor: 3 })
    expect(guard.applyFromClient(alice, update([1, 3, null]))).toEqual({ ok: true })
    expect(stateOf(1)).toBeUndefined()
    expect(events).toEqual([
      { added: [1], updated: [], removed: [], origin: alice },
      { added: [], updated: [1], removed: [], origin: alice },
      { added: [], updated: [], removed: [1], origin: alice },
    ])
  })

  test('a stock client announces its own id with the update y-protocols encodes', () => {
    const { guard, stateOf } = setUp()
    const client = new Awareness(new Y.Doc())
    awarenesses.push(client)
    client.setLocalStateField('user', { name: 'ada' })
    expect(guard.applyFromClient(alice, encodeAwarenessUpdate(client, [client.clientID]))).toEqual({ ok: true })
    expect(stateOf(client.clientID)).toEqual({ user: { name: 'ada' } })
  })

  test('clocks order updates as in y-protocols: older or equal ones are ignored, a removal at the same clock is not', () => {
    const { guard, stateOf } = setUp()
    guard.applyFromClient(alice, update([1, 5, { v: 5 }]))
    guard.applyFromClient(alice, update([1, 4, { v: 4 }], [1, 5, { v: 'same clock' }]))
    expect(stateOf(1)).toEqual({ v: 5 })
    guard.applyFromClient(alice, update([1, 7, { v: 7 }], [1, 6, { v: 6 }]))
    expect(stateOf(1)).toEqual({ v: 7 })
    guard.applyFromClient(alice, update([1, 7, null]))
    expect(stateOf(1)).toBeUndefined()
  })

  test('another connection can neither overwrite nor remove it, whatever the clock', () => {
    const { guard, stateOf, events } = setUp()
    guard.applyFromClient(alice, update([1, 1, { user: 'alice' }]))
    expect(guard.applyFromClient(mallory, update([1, 99, { user: 'mallory' }]))).toEqual({ ok: true })
    expect(guard.applyFromClient(mallory, update([1, 100, null], [1, 1, null]))).toEqual({ ok: true })
    expect(stateOf(1)).toEqual({ user: 'alice' })
    expect(events).toHaveLength(1)
  })

  test("peers' clients and the room's own id cannot be impersonated either", () => {
    const { awareness, guard, stateOf } = setUp()
    guard.applyFromPeers(update([7, 1, { user: 'on another node' }]), peers)
    guard.applyFromClient(mallory, update([7, 50, { user: 'mallory' }], [awareness.clientID, 50, { user: 'the server' }]))
    expect(stateOf(7)).toEqual({ user: 'on another node' })
    expect(stateOf(awareness.clientID)).toBeUndefined()
  })

  test("peers may change their own clients' states, not those of this node's connections", () => {
    const { guard, stateOf } = setUp()
    guard.applyFromClient(alice, update([1, 1, { user: 'alice' }]))
    guard.applyFromPeers(update([7, 1, { user: 'remote' }]), peers)
    guard.applyFromPeers(update([1, 50, { user: 'not alice' }], [7, 2, { user: 'remote, moved' }]), peers)
    guard.applyFromPeers(update([1, 51, null]), peers)
    expect(stateOf(1)).toEqual({ user: 'alice' })
    expect(stateOf(7)).toEqual({ user: 'remote, moved' })
    guard.applyFromPeers(update([7, 2, null]), peers)
    expect(stateOf(7)).toBeUndefined()
  })

  test("an id stays its connection's after it removed its state, until the connection is released", () => {
    const { guard, awareness, stateOf } = setUp()
    guard.applyFromClient(alice, update([1, 1, { user: 'alice' }], [1, 2, null]))
    guard.applyFromClient(mallory, update([1, 3, { user: 'mallory' }]))
    expect(stateOf(1)).toBeUndefined()
    guard.applyFromClient(alice, update([1, 4, { user: 'alice again' }]))
    expect(stateOf(1)).toEqual({ user: 'alice again' })
    expect(guard.release(alice)).toEqual([1])
    removeAwarenessStates(awareness, [1], null)
    guard.applyFromClient(mallory, update([1, 5, { user: 'mallory' }]))
    expect(stateOf(1)).toEqual({ user: 'mallory' })
  })

  test("echoes of others' states at their known clock are dropped and never count toward a close", () => {
    const { guard, awareness } = setUp()
    const held = Array.from({ length: 3 * maxRefusedAwarenessIdsPerConnection }, (_, i) => 100 + i)
    guard.applyFromPeers(update(...held.map((id): Entry => [id, 3, { id }])), peers)
    const echo = encodeAwarenessUpdate(awareness, held)
    for (let i = 0; i < 5; i++) expect(guard.applyFromClient(alice, echo)).toEqual({ ok: true })
    // A stock provider that timed a state out sends its removal at the same clock.
    expect(guard.applyFromClient(alice, update(...held.map((id): Entry => [id, 3, null])))).toEqual({ ok: true })
    expect(awareness.getStates().size).toBe(held.length)
  })

  test('a removal, or a state at clock 0, for an id nobody holds stores nothing', () => {
    const { guard, awareness, events } = setUp()
    expect(guard.applyFromClient(alice, update([1, 3, null], [2, 0, { user: 'clock 0' }]))).toEqual({ ok: true })
    expect(guard.applyFromClient(alice, updateOfJson([3, 1, ' null\n']))).toEqual({ ok: true })
    expect(guard.applyFromClient(alice, update([4, 2, null]))).toEqual({ ok: true })
    guard.applyFromPeers(update([5, 2, null]), peers)
    expect([...awareness.meta.keys()]).toEqual([awareness.clientID])
    expect(events).toEqual([])
  })
})

describe('bounds', () => {
  test(`a connection announces at most ${maxAwarenessIdsPerConnection} ids; entries for more are dropped`, () => {
    const { guard, awareness } = setUp()
    const ids = Array.from({ length: maxAwarenessIdsPerConnection + 2 }, (_, i) => i + 1)
    expect(guard.applyFromClient(alice, update(...ids.map((id): Entry => [id, 1, { id }])))).toEqual({ ok: true })
    expect([...awareness.getStates().keys()]).toEqual(ids.slice(0, maxAwarenessIdsPerConnection))
    guard.applyFromClient(alice, update(...ids.map((id): Entry => [id, 2, null])))
    expect(guard.applyFromClient(alice, update([99, 3, { late: true }]))).toEqual({ ok: true })
    expect(awareness.getStates().size).toBe(0)
  })

  test(`a connection refused more than ${maxRefusedAwarenessIdsPerConnection} ids is closed 4400, and nothing of that update applies`, () => {
    const { guard, stateOf } = setUp()
    guard.applyFromClient(alice, update([1, 1, { user: 'alice' }]))
    guard.applyFromClient(mallory, update([2, 1, { user: 'mallory' }], [1, 9, { user: 'alice?' }]))
    const fresh = Array.from({ length: maxAwarenessIdsPerConnection + maxRefusedAwarenessIdsPerConnection }, (_, i): Entry => [10 + i, 1, {}])
    const verdict = guard.applyFromClient(mallory, update([2, 2, { user: 'changed' }], ...fresh))
    expect(verdict).toMatchObject({ ok: false, code: 4400, reason: expect.stringMatching(/awareness refused/) })
    expect(stateOf(2)).toEqual({ user: 'mallory' })
  })

  test('repeating one refused id does not close the connection: it gains nothing', () => {
    const { guard, stateOf } = setUp()
    guard.applyFromClient(alice, update([1, 1, { user: 'alice' }]))
    for (let clock = 2; clock < 50; clock++) {
      expect(guard.applyFromClient(mallory, update([1, clock, { user: 'mallory' }]))).toEqual({ ok: true })
    }
    expect(stateOf(1)).toEqual({ user: 'alice' })
  })

  test('reading stops at the first entry past the budget: what follows is never decoded', () => {
    const { guard } = setUp()
    const refusals = Array.from({ length: maxAwarenessIdsPerConnection + maxRefusedAwarenessIdsPerConnection + 1 }, (_, i): Entry => [i + 1, 1, {}])
    const valid = update(...refusals)
    const claimsMore = encoding.createEncoder()
    encoding.writeVarUint(claimsMore, 500_000)
    encoding.writeUint8Array(claimsMore, valid.subarray(1))
    encoding.writeUint8Array(claimsMore, Uint8Array.of(0xff, 0xff))
    expect(guard.applyFromClient(mallory, encoding.toUint8Array(claimsMore))).toMatchObject({ code: 4400, reason: expect.stringMatching(/refused/) })
  })

  test(`a state over ${maxAwarenessStateBytes} bytes of JSON closes 4413; one of exactly that size is taken`, () => {
    const { guard, stateOf } = setUp()
    const fits = 'x'.repeat(maxAwarenessStateBytes - 2)
    expect(guard.applyFromClient(alice, update([1, 1, fits]))).toEqual({ ok: true })
    expect(stateOf(1)).toBe(fits)
    const verdict = guard.applyFromClient(alice, update([1, 2, fits + 'x']))
    expect(verdict).toEqual({ ok: false, code: 4413, reason: `awareness state of client 1 is ${maxAwarenessStateBytes + 1} bytes; the limit is ${maxAwarenessStateBytes}` })
    guard.applyFromPeers(update([2, 1, fits + 'x']), peers)
    expect(stateOf(2)).toBeUndefined()
  })

  test(`a document holds ${maxAwarenessStatesPerDoc} states: peers' entries past it are dropped, a client's new state closes 1013`, () => {
    const { guard, awareness, stateOf } = setUp()
    guard.applyFromClient(alice, update([1, 1, { user: 'alice' }]))
    const peerIds = Array.from({ length: maxAwarenessStatesPerDoc + 5 }, (_, i) => 1_000 + i)
    guard.applyFromPeers(update(...peerIds.map((id): Entry => [id, 1, {}])), peers)
    expect(awareness.getStates().size).toBe(maxAwarenessStatesPerDoc)
    expect(stateOf(peerIds.at(-1)!)).toBeUndefined()

    guard.applyFromPeers(update([1_000, 2, { still: 'updated' }]), peers)
    expect(stateOf(1_000)).toEqual({ still: 'updated' })
    expect(guard.applyFromClient(alice, update([1, 2, { user: 'alice, moved' }]))).toEqual({ ok: true })
    expect(guard.applyFromClient(mallory, update([2, 1, { user: 'one too many' }]))).toEqual({
      ok: false,
      code: 1013,
      reason: `the document holds ${maxAwarenessStatesPerDoc} awareness states, its limit; try again later`,
    })

    guard.applyFromPeers(update([1_000, 3, null]), peers)
    expect(guard.applyFromClient(mallory, update([2, 1, { user: 'room now' }]))).toEqual({ ok: true })
  })
})

describe('bad input', () => {
  test.each([
    ['an empty update', new Uint8Array(), /Unexpected end of array/],
    ['a cut entry', update([1, 1, { user: 'alice' }]).subarray(0, 6), /Unexpected end of array/],
    ['more entries declared than sent', Uint8Array.of(2, ...update([1, 1, {}]).subarray(1)), /Unexpected end of array/],
    ['bytes after the last entry', Uint8Array.of(...update([1, 1, {}]), 0), /bytes after the last entry/],
    ['a state that is not JSON', Uint8Array.of(1, 1, 1, 3, 0x7b, 0x7b, 0x7d), /state of client 1 is not JSON/],
    ['a state that is not UTF-8', Uint8Array.of(1, 1, 1, 2, 0xc3, 0x28), /state of client 1 is not JSON/],
  ])('%s closes 4400 and applies nothing', (_what, bytes, reason) => {
    const { guard, awareness } = setUp()
    expect(guard.applyFromClient(alice, bytes)).toMatchObject({ ok: false, code: 4400, reason: expect.stringMatching(reason) })
    guard.applyFromPeers(bytes, peers)
    expect(awareness.getStates().size).toBe(0)
  })

  test('random bytes never throw past the guard, from a client or from a peer', () => {
    const json = fc.oneof(fc.json(), fc.string(), fc.constant('null'))
    const entries = fc.array(fc.tuple(fc.integer({ min: 1, max: 20 }), fc.nat(5), json), { maxLength: 8 })
    const damaged = fc.tuple(entries, fc.nat(), fc.nat(255)).map(([list, at, byte]) => {
      const bytes = updateOfJson(...list)
      bytes[at % bytes.length] = byte
      return bytes
    })
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), damaged), { maxLength: 4 }), (updates) => {
        const { guard } = setUp()
        for (const bytes of updates) {
          const verdict = guard.applyFromClient(alice, bytes)
          if (!verdict.ok) expect([4400, 4413, 1013]).toContain(verdict.code)
          guard.applyFromPeers(bytes, peers)
        }
      }),
    )
  })

  test('whatever several connections send, a state is only ever set by the connection that announced its id', () => {
    const connections = ['a', 'b', 'c'].map((name) => ({ name }))
    const entry = fc.record({ clientId: fc.integer({ min: 1, max: 6 }), clock: fc.integer({ min: 0, max: 8 }), remove: fc.boolean() })
    const frame = fc.record({ from: fc.integer({ min: 0, max: 2 }), entries: fc.array(entry, { minLength: 1, maxLength: 5 }) })
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 30 }), (frames) => {
        const { guard, awareness } = setUp()
        const setter = new Map<number, string>()
        for (const { from, entries } of frames) {
          const by = connections[from]!.name
          guard.applyFromClient(connections[from]!, update(...entries.map(({ clientId, clock, remove }): Entry => [clientId, clock, remove ? null : { by }])))
          for (const [clientId, state] of awareness.getStates()) {
            const setBy = (state as { by: string }).by
            expect(setter.get(clientId) ?? setBy).toBe(setBy)
            setter.set(clientId, setBy)
          }
        }
      }),
    )
  })
})

test('awareness entries round-trip through their writer and reader', () => {
  fc.assert(
    fc.property(fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 100 }), (clientId, clock, state) => {
      const encoder = encoding.createEncoder()
      writeAwarenessEntry(encoder, { clientId, clock, state })
      const decoder = decoding.createDecoder(encoding.toUint8Array(encoder))
      expect(readAwarenessEntry(decoder)).toEqual({ clientId, clock, state })
      expect(decoding.hasContent(decoder)).toBe(false)
    }),
  )
})
