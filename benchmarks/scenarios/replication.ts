import { runPartitionHeal, type PartitionHealResult } from './partition-heal.js'
import { runPropagation, type PropagationResult } from './propagation.js'
import { median } from '../harness/stats.js'
import type { TargetCheck } from '../report/tables.js'

export interface ReplicationBenchResults {
  quick: boolean
  date: string
  commit: string
  propagation: PropagationResult
  /** The run with the median heal time. */
  heal: PartitionHealResult
  healRunsMs: number[]
}

const full = { propagation: { updates: 500, spacingMs: 10 }, heal: { documents: 10_000, concurrency: 32 }, healRuns: 3 }
const quick = { propagation: { updates: 100, spacingMs: 10 }, heal: { documents: 1_000, concurrency: 32 }, healRuns: 1 }
const healTargetMs = 2_000

/** Data plane across three node processes: propagation latency between nodes, and the time a partition takes to heal. */
export async function runReplicationBenchmark(options: { quick: boolean; commit: string }): Promise<ReplicationBenchResults> {
  const sizes = options.quick ? quick : full
  const propagation = await runPropagation(sizes.propagation)
  const heals: PartitionHealResult[] = []
  for (let i = 0; i < sizes.healRuns; i++) heals.push(await runPartitionHeal(sizes.heal))
  const healRunsMs = heals.map((h) => h.healToConvergedMs)
  const heal = heals.find((h) => h.healToConvergedMs === median(healRunsMs)) ?? heals[0]!
  return { quick: options.quick, date: new Date().toISOString(), commit: options.commit, propagation, heal, healRunsMs }
}

export function formatReplicationSection(results: ReplicationBenchResults): string {
  const { propagation: p, heal } = results
  const crossTarget = 2 * p.sameNode.p99Ms + 5
  const ms = (v: number) => `${v.toFixed(1)} ms`
  const met = (ok: boolean) => (ok ? 'met' : '**not met**')
  return [
    '## Replication between nodes',
    '',
    `Measured ${results.date} at ${results.commit}: three \`syncmesh start\` processes on 127.0.0.1 with fresh data directories,` +
      (results.quick ? ' **Quick run: reduced sizes.**' : ''),
    '',
    `- **Propagation**: one writer and one reader \`WebsocketProvider\` on n1, one reader on n2; ${p.updates} one-character`,
    `  inserts ${p.spacingMs} ms apart; latency from the insert until the reader's update event. The cross-node path is the`,
    '  writer\'s node making the update durable, live fan-out over the peer link, and n2 making it durable before it',
    '  broadcasts (each node fsyncs before it passes anything on).',
    '- **Partition heal**: every peer link runs through a TCP proxy of the test harness, so that it can be cut',
    `  (\`--raft-tick-ms 20\`). ${heal.documents.toLocaleString('en-US')} documents written on n1 and replicated; then {n1} cut off from`,
    '  {n2, n3}; every document edited on both sides (REST writes to n1 and to n2); both sides settle; the cut heals.',
    '  Time from the heal until all three nodes report the same whole-set fingerprint (`GET /v1/cluster`, polled every',
    `  20 ms) with ${heal.documents.toLocaleString('en-US')} documents — every document identical everywhere. Anti-entropy interval ${heal.antiEntropyMs} ms; a healed`,
    `  link is dialed again by both ends within 0.4 s (redial backoff with jitter; 10–350 ms in timed heals) and is reconciled at once.`,
    `  ${results.healRunsMs.length} runs on fresh clusters; the table gives the`,
    `  median (runs: ${results.healRunsMs.map((v) => `${(v / 1000).toFixed(2)} s`).join(', ')}).`,
    '',
    '| measure | figure | target | met? |',
    '| --- | ---: | --- | --- |',
    `| same-node latency p50 / p99 | ${ms(p.sameNode.p50Ms)} / ${ms(p.sameNode.p99Ms)} |  |  |`,
    `| cross-node latency p50 / p99 | ${ms(p.crossNode.p50Ms)} / ${ms(p.crossNode.p99Ms)} | p99 ≤ 2 × same-node p99 + 5 ms = ${ms(crossTarget)} | ${met(p.crossNode.p99Ms <= crossTarget)} |`,
    `| partition heal, ${heal.documents.toLocaleString('en-US')} documents edited on both sides | ${(heal.healToConvergedMs / 1000).toFixed(2)} s | ≤ ${healTargetMs / 1000} s | ${met(heal.healToConvergedMs <= healTargetMs)} |`,
    `| bytes n1 sent / received while healing | ${formatMiB(heal.n1BytesSent)} / ${formatMiB(heal.n1BytesReceived)} |  |  |`,
    '',
  ].join('\n')
}

export function replicationSummary(results: ReplicationBenchResults): string[] {
  const { propagation: p, heal } = results
  return [
    `replication same-node p99 ${p.sameNode.p99Ms.toFixed(1)} ms, cross-node p99 ${p.crossNode.p99Ms.toFixed(1)} ms`,
    `replication partition heal (${heal.documents} docs): ${(heal.healToConvergedMs / 1000).toFixed(2)} s`,
  ]
}

/** Issue 13's target for the partition heal, for the run's targets table. */
export function replicationTargetChecks(results: ReplicationBenchResults | undefined): TargetCheck[] {
  if (!results) return []
  const { healToConvergedMs, documents } = results.heal
  return [
    {
      id: 'partition-heal',
      benchmark: `partition heal, 3 nodes, ${documents.toLocaleString('en-US')} divergent documents`,
      what: `converged after the heal (against ${healTargetMs / 1000} s)`,
      ratio: healToConvergedMs / healTargetMs,
      target: '≤ 1×',
      met: healToConvergedMs <= healTargetMs,
    },
  ]
}

function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
