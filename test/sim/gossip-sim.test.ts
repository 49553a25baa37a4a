import { describe, expect, test } from 'vitest'
import { runGossipSimulation, type GossipSimOptions, type GossipSimResult } from './gossip-sim.js'

/** Runs seeds 1..seeds; each run itself checks convergence and that every write reached every node. */
function runSeeds(seeds: number, options: Partial<GossipSimOptions> & Pick<GossipSimOptions, 'nodes'>): GossipSimResult[] {
  return Array.from({ length: seeds }, (_, i) => runGossipSimulation({ ...options, seed: i + 1 }))
}

describe('anti-entropy gossip simulation', () => {
  test.each([
    { nodes: 3, seeds: 40 },
    { nodes: 10, seeds: 20 },
    { nodes: 50, seeds: 4 },
    { nodes: 200, seeds: 2 },
  ])('$nodes nodes converge after lost messages and partitions, and lose no write ($seeds seeds)', ({ nodes, seeds }) => {
    const results = runSeeds(seeds, { nodes })
    expect(results.reduce((sum, r) => sum + r.abortedSessions, 0)).toBeGreaterThan(0)
    for (const result of results) expect(result.roundsToConverge).toBeLessThan(20)
  })

  test('divergence made only of deletions inside documents is found and repaired', () => {
    // Few documents and mostly deletions: replicas often hold the same operations and differ only in what they deleted.
    runSeeds(20, { nodes: 6, docNames: 3, deleteShare: 0.8, writesPerRound: 12 })
  })

  test('a harsher network: a third of the messages lost, partitions most of the time', () => {
    runSeeds(20, { nodes: 10, dropRate: 0.33, partitionRate: 0.6, healRate: 0.15, faultyRounds: 20 })
  })

  test('many documents with tiny ranges: sessions several levels deep', () => {
    runSeeds(6, { nodes: 8, docNames: 300, writesPerRound: 40, reconciler: { branching: 2, listThreshold: 1 } })
  })

  test('the same seed gives the same run', () => {
    expect(runGossipSimulation({ nodes: 20, seed: 7 })).toEqual(runGossipSimulation({ nodes: 20, seed: 7 }))
  })
})
