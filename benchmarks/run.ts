/**
 * `npm run bench [-- --quick] [-- --only replay,docs,stored,fanout,burst,rest,control,reconcile,replication,history] [-- --docs N]`: runs the benchmarks against
 * syncmesh and the reference servers (the control plane against etcd, reconciliation in process), writes
 * benchmarks/RESULTS.md and prints a summary.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { describeEnvironment } from './harness/environment.js'
import { runFanout, type FanoutOptions } from './scenarios/fanout.js'
import { renderGossipRoundsSvg } from './report/gossip-plot.js'
import { runManyDocs, type ManyDocsOptions } from './scenarios/many-docs.js'
import { runReplay } from './scenarios/replay.js'
import { runRestWrites, type RestWritesOptions } from './scenarios/rest-writes.js'
import { runStoredDocs, type StoredDocsOptions } from './scenarios/stored-docs.js'
import { runReconciliationBenchmark } from './scenarios/reconciliation.js'
import { runReplicationBenchmark } from './scenarios/replication.js'
import { keepOtherSections, renderMarkdown, renderSummary, replaceSection, sectionsOf, type RunResults } from './report/report.js'
import { stopAllServers } from './harness/servers.js'
import { stopEverything } from './harness/cluster-processes.js'
import { runControlPlaneBenchmark } from './scenarios/control-plane.js'
import { prepareTraces } from './harness/trace.js'
import { runHistoryCost, type HistoryCostOptions } from './scenarios/history-cost.js'

const benchmarks = ['replay', 'docs', 'stored', 'fanout', 'burst', 'rest', 'control', 'reconcile', 'replication', 'history'] as const
type Benchmark = (typeof benchmarks)[number]

interface Sizes {
  /** Transactions of the trace to replay. */
  replayTxns: number
  docs: ManyDocsOptions
  fanout: FanoutOptions
  burst: FanoutOptions
  rest: RestWritesOptions
  stored: StoredDocsOptions
  /** Transactions of each trace the history benchmark replays. */
  historyTxns: number
  history: HistoryCostOptions
  /** Runs per server of the replay and fan-out benchmarks; the report gives the medians. */
  repeats: number
}

const fullSizes: Sizes = {
  replayTxns: Number.POSITIVE_INFINITY,
  docs: { docs: 1_000, steadyFromMs: 60_000, steadyUntilMs: 90_000 },
  fanout: { readers: 1_000, writers: 1, updates: 200, spacingMs: 20 },
  burst: { readers: 1_000, writers: 20, updates: 25, spacingMs: 100 },
  rest: { clients: 32, warmupWrites: 100, writesPerClient: 200 },
  stored: { docs: 10_000, coldOpens: 200, listPages: 10 },
  historyTxns: Number.POSITIVE_INFINITY,
  history: { versionEveryUpdates: 1_000, readRounds: 5, restoreRounds: 3 },
  repeats: 3,
}

const quickSizes: Sizes = {
  replayTxns: 20_000,
  docs: { docs: 100, steadyFromMs: 2_000, steadyUntilMs: 7_000 },
  fanout: { readers: 100, writers: 1, updates: 50, spacingMs: 20 },
  burst: { readers: 100, writers: 20, updates: 10, spacingMs: 100 },
  rest: { clients: 32, warmupWrites: 20, writesPerClient: 30 },
  stored: { docs: 2_000, coldOpens: 50, listPages: 2 },
  historyTxns: 20_000,
  history: { versionEveryUpdates: 1_000, readRounds: 1, restoreRounds: 1 },
  repeats: 1,
}

/** Above this 1-minute load average at the start, the run warns that the machine is not quiet. */
const busyLoadAverage = 0.5
const resultsPath = fileURLToPath(new URL('../../benchmarks/RESULTS.md', import.meta.url))
const gossipChartPath = fileURLToPath(new URL('../../benchmarks/gossip-rounds.svg', import.meta.url))
const usage = `usage: npm run bench -- [--quick] [--only ${benchmarks.join(',')}] [--docs N (stored documents, default 10000)]`

function parseCommandLine(): { quick: boolean; only: Set<Benchmark>; docs: number | undefined } {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string', multiple: true }, docs: { type: 'string' } },
    strict: true,
  })
  const docs = values.docs === undefined ? undefined : Number(values.docs)
  if (docs !== undefined && !(Number.isSafeInteger(docs) && docs > 0)) throw new Error(`--docs takes a positive whole number\n${usage}`)
  const names = (values.only ?? [...benchmarks]).flatMap((v) => v.split(',')).filter((v) => v.length > 0)
  for (const name of names) {
    if (!(benchmarks as readonly string[]).includes(name)) throw new Error(`unknown benchmark ${JSON.stringify(name)}\n${usage}`)
  }
  return { quick: values.quick ?? false, only: new Set(names as Benchmark[]), docs }
}

async function main(): Promise<void> {
  const { quick, only, docs } = parseCommandLine()
  const sizes = quick ? quickSizes : fullSizes
  const startedAt = performance.now()
  const step = (what: string) =>
    console.log(`[${((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${what}`)
  const results: RunResults = { environment: describeEnvironment(), quick, seconds: 0 }
  if (results.environment.loadAverage > busyLoadAverage) {
    console.warn(`warning: load average ${results.environment.loadAverage.toFixed(2)}; other work on the machine will skew the figures`)
  }

  if (only.has('replay')) {
    step('trace replay: preparing the updates of every trace in ../shared/traces')
    results.replay = []
    for (const trace of prepareTraces(sizes.replayTxns)) {
      step(`trace replay: ${trace.name}, ${trace.updates.length} updates against syncmesh and @y/websocket-server, ${sizes.repeats}×`)
      results.replay.push(await runReplay(trace, ['syncmesh', 'reference'], sizes.repeats))
    }
  }
  if (only.has('docs')) {
    step(`many documents: ${sizes.docs.docs} against syncmesh and @y/websocket-server`)
    results.manyDocs = await runManyDocs(sizes.docs, ['syncmesh', 'reference'])
  }
  if (only.has('stored')) {
    const stored = { ...sizes.stored, ...(docs !== undefined && { docs }) }
    step(`stored documents: ${stored.docs} on one node, restarted`)
    results.storedDocs = await runStoredDocs(stored)
  }
  if (only.has('fanout')) {
    step(`fan-out: 1 writer, ${sizes.fanout.readers} readers against syncmesh, @y/websocket-server, Hocuspocus and a bare ws relay, ${sizes.repeats}×`)
    results.fanout = await runFanout(sizes.fanout, ['syncmesh', 'reference', 'hocuspocus', 'relay'], sizes.repeats)
  }
  if (only.has('burst')) {
    const { writers, readers } = sizes.burst
    step(`fan-out bursts: ${writers} writers at once, ${readers} readers against syncmesh, @y/websocket-server and a bare ws relay, ${sizes.repeats}×`)
    results.burst = await runFanout(sizes.burst, ['syncmesh', 'reference', 'relay'], sizes.repeats)
  }
  if (only.has('rest')) {
    const { clients } = sizes.rest
    step(`REST writes: ${clients} clients, against the WebSocket path for the same updates, ${sizes.repeats}×`)
    results.restWrites = await runRestWrites(sizes.rest, sizes.repeats)
  }
  if (only.has('control')) {
    step('control plane: 3 syncmesh nodes against 3 etcd members')
    results.controlPlane = await runControlPlaneBenchmark({ quick })
  }
  if (only.has('reconcile')) {
    step('reconciliation: range-based set reconciliation sessions and the gossip simulation, in process')
    results.reconcile = runReconciliationBenchmark({ quick })
    writeFileSync(gossipChartPath, renderGossipRoundsSvg(results.reconcile.gossip))
  }
  if (only.has('replication')) {
    step('replication: propagation between nodes, and a partition of 3 nodes healing')
    results.replication = await runReplicationBenchmark({ quick, commit: results.environment.commit })
  }
  if (only.has('history')) {
    step('version history: preparing the updates of every trace in ../shared/traces')
    results.history = []
    for (const trace of prepareTraces(sizes.historyTxns)) {
      step(`version history: ${trace.name}, ${trace.updates.length} updates, without history and with, a version every ${sizes.history.versionEveryUpdates}`)
      results.history.push(await runHistoryCost(trace, sizes.history, step))
    }
  }
  results.seconds = (performance.now() - startedAt) / 1000

  // A run of some benchmarks replaces just their sections, each saying when it ran (the header and the targets
  // table stay as the last full run left them).
  const previous = readFileSync(resultsPath, 'utf8')
  const rendered = renderMarkdown(results)
  const { date, commit } = results.environment
  const ranAlone = `_Measured alone (\`npm run bench -- --only ${[...only].join(',')}\`) on ${date}, at ${commit}._\n`
  const markdown =
    only.size < benchmarks.length
      ? sectionsOf(rendered)
          .filter((section) => !section.startsWith('## Targets'))
          .map((section) => `${section.trimEnd()}\n\n${ranAlone}`)
          .reduce((markdown, section) => replaceSection(markdown, section, '## Targets'), previous)
      : keepOtherSections(rendered, previous)
  writeFileSync(resultsPath, markdown)
  step(`done; wrote ${resultsPath}\n`)
  process.stdout.write(renderSummary(results))
}

// Interrupted: exit through the 'exit' hook of servers.ts, which kills the servers and removes their data.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))

try {
  await main()
} catch (err) {
  process.exitCode = 1
  console.error(err instanceof Error ? (err.stack ?? err.message) : err)
} finally {
  await stopAllServers()
  await stopEverything()
}
// Clients that failed half-way may hold sockets or timers open.
process.exit()
