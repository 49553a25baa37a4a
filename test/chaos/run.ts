/**
 * `npm run chaos -- --seconds N --seed S [--nodes 3|5] [--seeds K]` runs the chaos test against real node
 * processes: K seeds from S (default 1), each for N seconds of faults and writes, then heals and checks.
 * Prints every fault as it happens, a JSON report per seed, and for a failing seed the command that
 * replays its schedule, with every node's log lines in --logs DIR (default ./chaos-logs). Exits 1 if any seed lost a write, resurrected a deletion, diverged, or saw a node die.
 */
import { parseArgs } from 'node:util'
import { chaosPassed, runChaos } from './chaos-run.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    seeds: { type: 'string', default: '1' },
    nodes: { type: 'string', default: '3' },
    quiet: { type: 'boolean', default: false },
    logs: { type: 'string', default: 'chaos-logs' },
  },
})
const seconds = Number(values.seconds)
const nodes = Number(values.nodes)
const first = Number(values.seed)
if (!(seconds > 0) || ![3, 5].includes(nodes) || !Number.isInteger(first)) {
  console.error('usage: npm run chaos -- --seconds N --seed S [--nodes 3|5] [--seeds K]')
  process.exit(2)
}

let failed = 0
for (let seed = first; seed < first + Number(values.seeds); seed++) {
  const report = await runChaos({ seed, seconds, nodes, logDir: values.logs!, ...(!values.quiet && { log: (line) => console.log(`  [seed ${seed}] ${line}`) }) })
  console.log(JSON.stringify(report))
  if (!chaosPassed(report)) {
    failed++
    console.log(`seed ${seed} FAILED: lost ${report.lost}, resurrected ${report.resurrected}, divergent ${report.divergent}, missed changes ${report.missedChanges}, missed webhook events ${report.missedWebhookEvents}, died ${report.died}`)
    console.log(`node logs: ${values.logs}/seed-${seed}-*.log`)
    console.log(`replay: npm run chaos -- --seconds ${seconds} --seed ${seed} --nodes ${nodes}`)
  }
}
console.log(`${Number(values.seeds) - failed} passed, ${failed} failed`)
// Every node is stopped and every client closed by now; do not wait for what a client library left pending.
process.exit(failed > 0 ? 1 : 0)
