/**
 * `npm run fuzz -- --seconds N --seed S` fuzzes a fresh node for N seconds; a failure prints the seed, the
 * command that replays it and the last inputs, and exits 1. `--edges ws,rest` fuzzes only those edges;
 * `--minimize` replays each of the last inputs alone against a fresh node after a failure.
 */
import { parseArgs } from 'node:util'
import { edgeNames, type EdgeName } from './fuzz-input.js'
import { formatReport } from './format-report.js'
import { fuzzNode } from './fuzz-node.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '25' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    edges: { type: 'string' },
    minimize: { type: 'boolean', default: false },
  },
})
const edges = values.edges?.split(',') as EdgeName[] | undefined
const unknown = edges?.filter((edge) => !edgeNames.includes(edge))
if (unknown?.length) {
  console.error(`unknown edges: ${unknown.join(', ')}; the edges are ${edgeNames.join(', ')}`)
  process.exit(2)
}

const report = await fuzzNode({
  seconds: Number(values.seconds),
  // The budget counts from the process's start, so that `--seconds` bounds the command's own wall time.
  startedAtMs: performance.timeOrigin,
  seed: Number(values.seed),
  log: (line) => console.log(line),
  ...(edges && { edges }),
  minimize: values.minimize,
})
// Exits once the report is written, without waiting out the timers of inputs abandoned at the deadline.
process.stdout.write(`${formatReport(report)}\n`, () => process.exit(report.ok ? 0 : 1))
