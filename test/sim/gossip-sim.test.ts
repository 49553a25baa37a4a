import { describe, expect, test } from 'vitest'
import { runGossipSimulation, type GossipSimOptions, type GossipSimResult } from './gossip-sim.js'

/** Runs seeds 1..seeds; each run itself checks convergence and that every write reached every node. */
function runSeeds(seeds: number, options: Partial<GossipSimOptions> & Pick<GossipSimOptions, 'nodes'>): GossipSimResult[] {
  return Array.from({ length: seeds }, (_, i) => runGossipSimulation({ ...options, seed: i + 1 }))
}

/** The premise of a run: when the faults end, the replicas differ and some lack writes. */
const diverged = (r: GossipSimResult) => r.divergenceAtHeal.distinctStates > 1 && r.divergenceAtHeal.missing > 0

function expectAllConverged(results: GossipSimResult[]): void {
  for (const r of results) expect(r.divergenceAtEnd).toEqual({ distinctStates: 1, missing: 0, deletionsOnly: 0 })
}

const sum = (results: GossipSimResult[], count: (r: GossipSimResult) => number) => results.reduce((total, r) => total + count(r), 0)

describe('anti-entropy gossip simulation', () => {
  test.each([
    { nodes: 3, seeds: 40 },
    { nodes: 10, seeds: 20 },
    { nodes: 50, seeds: 4 },
    { nodes: 200, seeds: 2 },
  ])('$nodes nodes converge after lost messages and partitions, and lose no write ($seeds seeds)', ({ nodes, seeds }) => {
    const results = runSeeds(seeds, { nodes })
    // Three nodes sometimes reconcile everything within the last faulty round; most seeds must leave work.
    expect(results.filter(diverged).length).toBeGreaterThanOrEqual(Math.ceil(seeds * 0.75))
    expect(sum(results, (r) => r.abortedSessions)).toBeGreaterThan(0)
    expect(sum(results, (r) => r.partitions)).toBeGreaterThan(0)
    expectAllConverged(results)
    for (const result of results) expect(result.roundsToConverge).toBeLessThan(20)
  })

  test('divergence made only of deletions inside documents is found and repaired', () => {
    // Few documents and mostly deletions: replicas often hold the same operations and differ only in what they deleted.
    const results = runSeeds(20, { nodes: 6, docNames: 3, deleteShare: 0.8, writesPerRound: 12 })
    expect(results.every(diverged)).toBe(true)
    expect(results.filter((r) => r.divergenceAtHeal.deletionsOnly > 0).length).toBeGreaterThanOrEqual(10)
    expectAllConverged(results)
  })

  test('a harsher network: a third of the messages lost, partitions most of the time', () => {
    const results = runSeeds(20, { nodes: 10, dropRate: 0.33, partitionRate: 0.6, healRate: 0.15, faultyRounds: 20 })
    expect(results.every(diverged)).toBe(true)
    for (const r of results) {
      expect(r.partitions).toBeGreaterThan(0)
      expect(r.abortedSessions / r.sessions).toBeGreaterThan(0.2)
    }
    expectAllConverged(results)
  })

  test('many documents with tiny ranges: sessions several levels deep', () => {
    const results = runSeeds(6, { nodes: 8, docNames: 300, writesPerRound: 40, reconciler: { branching: 2, listThreshold: 1 } })
    const shallow = runSeeds(6, { nodes: 8, docNames: 300, writesPerRound: 40 })
    expect(results.every(diverged)).toBe(true)
    // With the default branching, one split reaches lists (3 messages); here ranges split level after level.
    for (const [i, r] of results.entries()) expect(r.longestSession).toBeGreaterThan(2 * shallow[i]!.longestSession)
    expectAllConverged(results)
  })

  test('the same seed gives the same run', () => {
    expect(runGossipSimulation({ nodes: 20, seed: 7 })).toEqual(runGossipSimulation({ nodes: 20, seed: 7 }))
  })
})
