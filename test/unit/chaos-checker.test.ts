import fc from 'fast-check'
import * as Y from 'yjs'
import { expect, test } from 'vitest'
import { AckLog, percentile } from '../chaos/ack-log.js'
import { checkCluster, checkFeeds, checkWebhook, converged } from '../chaos/checker.js'
import { nextFault, type FaultState } from '../chaos/faults.js'
import type { DocObservation, FeedObservation, NodeObservation } from '../chaos/observe.js'

type Latest = FeedObservation extends ReadonlyMap<string, infer V> ? V : never
import { Rng } from '../sim/rng.js'

const present = (digest: string, ...markers: string[]): DocObservation => ({ state: 'present', digest, markers: new Set(markers), stateVector: `sv-${digest}` })
const deleted: DocObservation = { state: 'deleted' }
const absent: DocObservation = { state: 'absent' }

function node(id: string, docs: Record<string, DocObservation>, listed = Object.keys(docs).filter((d) => docs[d]!.state === 'present')): NodeObservation {
  return { node: id, listed: new Set(listed), docs: new Map(Object.entries(docs)) }
}

function acked(writes: Record<string, string[]>, deletions: string[] = []): AckLog {
  const acks = new AckLog()
  for (const [doc, keys] of Object.entries(writes)) for (const key of keys) acks.ackWrite(doc, key, 'rest', 1)
  for (const doc of deletions) acks.deletions.add(doc)
  return acks
}

test('identical replicas holding every acknowledged write pass with zero counts', () => {
  const nodes = [node('n1', { a: present('x', 'k1', 'k2'), b: deleted }), node('n2', { a: present('x', 'k1', 'k2'), b: deleted })]
  expect(checkCluster(acked({ a: ['k1', 'k2'], b: ['k9'] }, ['b']), nodes)).toEqual({ lost: 0, resurrected: 0, divergent: 0, examples: [] })
  expect(converged(nodes)).toBe(true)
})

test('an acknowledged write missing on one node is lost, and the replicas diverge', () => {
  const nodes = [node('n1', { a: present('x', 'k1', 'k2') }), node('n2', { a: present('y', 'k1') })]
  const verdict = checkCluster(acked({ a: ['k1', 'k2'] }), nodes)
  expect(verdict).toMatchObject({ lost: 1, resurrected: 0, divergent: 1 })
  expect(verdict.examples).toContain('lost a k2 on n2')
  expect(converged(nodes)).toBe(false)
})

test('a document absent everywhere loses every acknowledged write to it', () => {
  const verdict = checkCluster(acked({ a: ['k1', 'k2'] }), [node('n1', { a: absent }), node('n2', {})])
  expect(verdict).toMatchObject({ lost: 2, divergent: 0 })
})

test('an acknowledged deletion with data or a listing anywhere is resurrected', () => {
  const withData = [node('n1', { a: deleted }), node('n2', { a: present('x') }, [])]
  expect(checkCluster(acked({}, ['a']), withData)).toMatchObject({ resurrected: 1, divergent: 1 })
  const listedOnly = [node('n1', { a: deleted }, ['a']), node('n2', { a: deleted }, ['a'])]
  expect(checkCluster(acked({}, ['a']), listedOnly)).toMatchObject({ resurrected: 1, divergent: 0 })
})

test('writes to a document deleted later are not lost: the deletion wins', () => {
  const nodes = [node('n1', { a: deleted }), node('n2', { a: deleted })]
  expect(checkCluster(acked({ a: ['k1'] }), nodes)).toMatchObject({ lost: 0, resurrected: 0, divergent: 0 })
})

test('a document listed by one node only diverges', () => {
  const nodes = [node('n1', { a: present('x') }), node('n2', { a: present('x') }, [])]
  expect(checkCluster(acked({}), nodes).divergent).toBe(1)
})

test('percentile picks from the sorted values', () => {
  expect(percentile([], 50)).toBeNull()
  expect(percentile([5, 1, 3], 50)).toBe(3)
  expect(percentile([5, 1, 3], 99)).toBe(5)
})

const faultState = fc
  .record({
    members: fc.uniqueArray(fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5', 'n6'), { minLength: 1, maxLength: 6 }),
    spares: fc.uniqueArray(fc.constantFrom('s1', 's2'), { maxLength: 2 }),
    downCount: fc.nat(3),
    networkFaultActive: fc.boolean(),
    membershipChangeActive: fc.boolean(),
  })
  .map(({ downCount, ...rest }): FaultState => ({ ...rest, down: new Set(rest.members.slice(0, downCount)) }))

test('every planned fault fits the state and the limits', () => {
  const limits = { minMembers: 3, maxMembers: 4, maxDown: 2 }
  fc.assert(
    fc.property(faultState, fc.integer(), (state, seed) => {
      const fault = nextFault(new Rng(seed), state, limits)
      if (fault === null) return
      const up = state.members.filter((id) => !state.down.has(id))
      switch (fault.kind) {
        case 'kill':
        case 'pause':
          expect(state.down.size).toBeLessThan(limits.maxDown)
          expect(up).toContain(fault.node)
          break
        case 'isolate':
        case 'split':
        case 'one-way':
          expect(state.networkFaultActive).toBe(false)
          if (fault.kind === 'split') expect([...fault.sides[0], ...fault.sides[1]].sort()).toEqual([...state.members].sort())
          if (fault.kind === 'one-way') expect(fault.from).not.toBe(fault.to)
          break
        case 'add-member':
          expect(state.membershipChangeActive).toBe(false)
          expect(state.members.length).toBeLessThan(limits.maxMembers)
          expect(state.spares).toContain(fault.node)
          break
        case 'remove-member':
          expect(state.membershipChangeActive).toBe(false)
          expect(state.members.length).toBeGreaterThan(limits.minMembers)
          expect(up).toContain(fault.node)
          break
        case 'transfer-leader':
          expect(up).toContain(fault.to)
      }
    }),
  )
})

test('the same seed and states give the same schedule', () => {
  const state: FaultState = { members: ['n1', 'n2', 'n3'], spares: ['n4'], down: new Set(), networkFaultActive: false, membershipChangeActive: false }
  const schedule = (seed: number) => {
    const rng = new Rng(seed)
    return Array.from({ length: 20 }, () => nextFault(rng, state, { minMembers: 3, maxMembers: 4, maxDown: 1 }))
  }
  expect(schedule(7)).toEqual(schedule(7))
  expect(schedule(7)).not.toEqual(schedule(8))
})

test("a node's change feed must end with updated at the document's state vector for what it holds, and with deleted for what it deleted, if it told of it", () => {
  const nodes = [node('n1', { a: present('x'), b: deleted, c: deleted }), node('n2', { a: present('x'), b: deleted, c: deleted, d: present('y') })]
  const updated = (stateVector: string): Latest => ({ type: 'updated', stateVector })
  const removed: Latest = { type: 'deleted', stateVector: null }
  const feeds = new Map<string, FeedObservation>([
    ['n1', new Map([['a', updated('sv-x')], ['b', removed]])],
    // n2 never held c; it told of b's update but not of its deletion, of a's deletion after its update, and of d's change before the last.
    ['n2', new Map([['a', removed], ['b', updated('sv-b')], ['d', updated('sv-older')]])],
  ])
  const verdict = checkFeeds(nodes, feeds)
  expect(verdict.missed).toBe(3)
  expect(verdict.examples).toEqual([
    'change feed of n2: a is present, its latest event deleted',
    'change feed of n2: b is deleted, its latest event updated sv-b',
    'change feed of n2: d is present, its latest event updated sv-older',
  ])
  expect(checkFeeds([node('n3', { a: present('x') })], new Map()).missed).toBe(1)
})

test('the webhook must have been told every update of a document held and every deletion of one written, at least once', () => {
  const sv = (clocks: [number, number][]) => Buffer.from(Y.encodeStateVector(new Map(clocks))).toString('base64')
  const held = (stateVector: string): DocObservation => ({ state: 'present', digest: 'd', markers: new Set(), stateVector })
  const observed = node('n1', { a: held(sv([[1, 5], [2, 3]])), b: deleted, c: held(sv([[3, 1]])), never: deleted })
  const updated = (name: string, clocks: [number, number][]) => ({ type: 'document.updated' as const, name, stateVector: sv(clocks) })
  const told = [updated('a', [[1, 5]]), updated('a', [[2, 3]]), { type: 'document.deleted' as const, name: 'b', stateVector: null }, updated('c', [[3, 1]])]
  const written = new Set(['a', 'b', 'c'])
  expect(checkWebhook(observed, written, told)).toEqual({ missed: 0, duplicates: 0, examples: [] })
  expect(checkWebhook(observed, written, [...told, updated('c', [[3, 1]])]).duplicates).toBe(1)
  // a's client 2 up to clock 3 was never in a delivery; b's deletion was never sent.
  const short = checkWebhook(observed, written, [updated('a', [[1, 5], [2, 2]]), updated('c', [[3, 1]])])
  expect(short.missed).toBe(2)
  expect(short.examples).toEqual(['webhook: a is present on n1, and no delivery told of all of it', 'webhook: b is deleted on n1, and no delivery told of all of it'])
})
