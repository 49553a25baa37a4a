import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { CommandInput } from '../../src/control/proposal.js'
import { MetaSimulation, simNodeIds, type KeyChoice, type MetaSimAction, type MetaSimStats } from './meta-sim.js'

const nodeIndex = fc.integer({ min: 0, max: simNodeIds.length - 1 })
const memberId = fc.constantFrom(...simNodeIds)
const spareId = fc.constantFrom('n4', 'n5')

const input: fc.Arbitrary<CommandInput> = fc.oneof(
  // URLs drawn apart from ids, so that an add may take another member's URL.
  { weight: 3, arbitrary: fc.record({ type: fc.constant('add-member' as const), id: spareId, url: spareId.map((id) => `http://${id}`) }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('promote' as const), id: memberId }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('demote' as const), id: memberId }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('remove-member' as const), id: memberId }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('set-voter-target' as const), count: fc.integer({ min: 1, max: 5 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('put-namespace' as const),
      name: fc.constantFrom('a', 'b'),
      schema: fc.constant({ roots: {} }),
      limits: fc.constant({}),
      readOnly: fc.boolean(),
      publicRead: fc.constant(false),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('delete-namespace' as const), name: fc.constantFrom('a', 'b') }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('delete-doc' as const), name: fc.constantFrom('d1', 'd2') }) },
)

// Shared keys are reused by different writes, as careless clients do.
const key: fc.Arbitrary<KeyChoice> = fc.oneof(
  { weight: 3, arbitrary: fc.constant('fresh' as const) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 2 }).map((shared) => ({ shared })) },
  { weight: 1, arbitrary: fc.constant('too-long' as const) },
)

const action: fc.Arbitrary<MetaSimAction> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), via: nodeIndex, input, key }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('retry' as const), via: nodeIndex, request: fc.nat(40) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('ticks' as const), count: fc.integer({ min: 1, max: 25 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('crash' as const), node: nodeIndex }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('restart' as const), node: nodeIndex }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('isolate' as const), node: nodeIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heal' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('transfer' as const), to: nodeIndex }) },
)

/** Runs that once failed, each run again before the random ones (fast-check's `examples`). */
const counterexamples = JSON.parse(readFileSync(new URL('./meta-counterexamples.json', import.meta.url), 'utf8')) as {
  found: string
  seed: number
  actions: MetaSimAction[]
}[]

describe('metadata over Raft, in the deterministic simulation', () => {
  test('the Raft log and the applied metadata never disagree, through retries, membership changes, leader changes and crashes', () => {
    const total: MetaSimStats = { confChanges: 0, answeredOkFromMemory: 0, refusedBeforeProposing: 0, leaders: 0 }
    fc.assert(
      fc.property(fc.nat(), fc.array(action, { minLength: 20, maxLength: 80 }), (seed, actions) => {
        const stats = new MetaSimulation(seed).run(actions)
        for (const name of Object.keys(total) as (keyof MetaSimStats)[]) total[name] += stats[name]
      }),
      { numRuns: 300, examples: counterexamples.map(({ seed, actions }): [number, MetaSimAction[]] => [seed, actions]) },
    )
    // The premises: the runs did change membership, answer retries from memory, refuse writes and change leaders.
    expect(total.confChanges).toBeGreaterThan(100)
    expect(total.answeredOkFromMemory).toBeGreaterThan(30)
    expect(total.refusedBeforeProposing).toBeGreaterThan(150)
    expect(total.leaders).toBeGreaterThan(400)
  })
})
