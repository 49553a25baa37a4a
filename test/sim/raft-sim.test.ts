import { describe, expect, test } from 'vitest'
import { RaftSimulation, defaultSimOptions, type SimOptions } from './raft-sim.js'

const seeds = Number(process.env.SIM_SEEDS ?? 300)
const firstSeed = Number(process.env.SIM_FIRST_SEED ?? 1)

export function runSeed(seed: number, overrides: Partial<SimOptions> = {}) {
  try {
    return new RaftSimulation({ ...defaultSimOptions, ...overrides, seed }).run()
  } catch (err) {
    const flags = Object.keys(overrides).length > 0 ? ` (options ${JSON.stringify(overrides)})` : ''
    throw new Error(`seed ${seed}${flags} failed: ${(err as Error).message}\nreplay: npm run sim -- --seed ${seed}`, {
      cause: err,
    })
  }
}

describe('deterministic Raft simulation', () => {
  test(`${seeds} seeds of 3 voters with drops, duplicates, delays, partitions, crashes and membership changes`, () => {
    let committed = 0
    for (let seed = firstSeed; seed < firstSeed + seeds; seed++) committed += runSeed(seed).committed
    expect(committed).toBeGreaterThan(seeds * 20)
  })

  test('5 voters, harsher network', () => {
    for (let seed = 1; seed <= 40; seed++) {
      runSeed(seed, { voters: 5, faults: { dropRate: 0.2, duplicateRate: 0.1, maxDelayTicks: 5 } })
    }
  })
})
