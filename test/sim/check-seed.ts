import { checkLinearizable, describeViolation, kvModel } from './linearizability.js'
import { RaftSimulation, defaultSimOptions, type SimOptions, type SimResult } from './raft-sim.js'

/**
 * Runs one seed of the Raft simulation: safety and liveness are checked inside it, the linearizability of
 * the clients' history here. A failure names the seed and the command that replays it.
 */
export function checkSeed(seed: number, overrides: Partial<SimOptions> = {}): SimResult {
  try {
    const result = new RaftSimulation({ ...defaultSimOptions, ...overrides, seed }).run()
    const verdict = checkLinearizable(kvModel, result.ops, { timeoutMs: 10_000 })
    if (verdict.ok === false) throw new Error(`history is not linearizable:\n${describeViolation(verdict)}`)
    if (verdict.ok === 'timeout') throw new Error('the linearizability check timed out')
    return result
  } catch (err) {
    const { trace: _trace, ...shown } = overrides
    const options = Object.keys(shown).length > 0 ? ` --options '${JSON.stringify(shown)}'` : ''
    throw new Error(`seed ${seed} failed: ${(err as Error).message}\nreplay: npm run sim -- --seed ${seed}${options} --trace`, {
      cause: err,
    })
  }
}
