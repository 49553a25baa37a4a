/**
 * `npm run sim -- --seeds N [--first S]` runs N seeds of the Raft simulation;
 * `npm run sim -- --seed S [--trace]` replays one seed, printing every event with --trace.
 * Options as JSON: `--options '{"voters":5}'`.
 */
import { parseArgs } from 'node:util'
import { checkSeed } from './check-seed.js'
import type { SimOptions } from './raft-sim.js'

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1000' },
    first: { type: 'string', default: '1' },
    seed: { type: 'string' },
    options: { type: 'string', default: '{}' },
    trace: { type: 'boolean', default: false },
  },
})
const overrides = JSON.parse(values.options!) as Partial<SimOptions>
if (values.trace) overrides.trace = (line) => console.log(line)
const seeds =
  values.seed !== undefined
    ? [Number(values.seed)]
    : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.first) + i)

let failed = 0
for (const seed of seeds) {
  try {
    const result = checkSeed(seed, overrides)
    if (seeds.length === 1) console.log(JSON.stringify({ seed, ...result, ops: result.ops.length }))
  } catch (err) {
    failed++
    console.log((err as Error).message)
  }
}
console.log(`${seeds.length - failed} passed, ${failed} failed`)
process.exitCode = failed > 0 ? 1 : 0
