/**
 * `npm run build:dev && node dist/benchmarks/scenarios/control-plane-main.js [--quick]`: the control-plane benchmark alone;
 * prints its RESULTS.md section.
 */
import { parseArgs } from 'node:util'
import { stopEverything } from '../harness/cluster-processes.js'
import { runControlPlaneBenchmark } from './control-plane.js'
import { formatControlPlaneSection } from '../report/control-plane-report.js'

// Interrupted: exit through the 'exit' hook of cluster-processes.ts, which kills the members and drops their data.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))

try {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } }, strict: true })
  const results = await runControlPlaneBenchmark({ quick: values.quick ?? false })
  process.stdout.write(formatControlPlaneSection(results))
  console.error(`control-plane benchmark took ${Math.round(results.seconds)} s`)
} catch (err) {
  process.exitCode = 1
  console.error(err instanceof Error ? (err.stack ?? err.message) : err)
} finally {
  await stopEverything()
}
// Aborted failover writes may leave sockets open.
process.exit()
