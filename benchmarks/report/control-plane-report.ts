import type { TimeoutProfile } from '../harness/control-plane-cluster.js'
import { writtenValue, type ControlPlaneResults, type SteadyRun, type SystemResults } from '../scenarios/control-plane.js'
import { median } from '../harness/stats.js'
import type { TargetCheck } from './tables.js'

interface Row {
  metric: string
  syncmesh: number
  etcd: number
  format: (v: number) => string
  target?: { text: string; met: boolean }
}

const failoverLimitMs = 500

/** Issue 13's control-plane targets (latency at or below etcd's, throughput at or above), for the run's targets table. */
export function controlPlaneTargetChecks(results: ControlPlaneResults | undefined): TargetCheck[] {
  if (!results) return []
  const { syncmesh, etcd } = results.systems
  const check = (id: string, what: string, ours: number, theirs: number, atLeast: boolean): TargetCheck => ({
    id,
    benchmark: 'control plane, 3 members',
    what: `${what} vs etcd`,
    ratio: ours / theirs,
    target: atLeast ? '≥ 1×' : '≤ 1×',
    met: atLeast ? ours >= theirs : ours <= theirs,
  })
  return [
    check('control-p50', 'write latency p50, sequential', syncmesh.steady.latencyP50Ms, etcd.steady.latencyP50Ms, false),
    check('control-p99', 'write latency p99, sequential', syncmesh.steady.latencyP99Ms, etcd.steady.latencyP99Ms, false),
    check('control-writes', `writes/s, ${results.sizes.concurrentWriters} concurrent writers`, syncmesh.steady.writesPerSecond, etcd.steady.writesPerSecond, true),
  ]
}

/** The control-plane benchmark as a Markdown section of RESULTS.md: method, table with targets, samples. */
export function formatControlPlaneSection(results: ControlPlaneResults): string {
  const { syncmesh, etcd } = results.systems
  const { sizes } = results
  const failover = (s: SystemResults, profile: TimeoutProfile) => median(s.failoverMs[profile])
  const notAbove = (a: number, b: number) => ({ text: '≤ 1×', met: a <= b })
  const rows: Row[] = [
    {
      metric: 'write latency p50, sequential',
      syncmesh: syncmesh.steady.latencyP50Ms,
      etcd: etcd.steady.latencyP50Ms,
      format: formatMs,
      target: notAbove(syncmesh.steady.latencyP50Ms, etcd.steady.latencyP50Ms),
    },
    {
      metric: 'write latency p99, sequential',
      syncmesh: syncmesh.steady.latencyP99Ms,
      etcd: etcd.steady.latencyP99Ms,
      format: formatMs,
      target: notAbove(syncmesh.steady.latencyP99Ms, etcd.steady.latencyP99Ms),
    },
    {
      metric: `writes/s, ${sizes.concurrentWriters} concurrent writers`,
      syncmesh: syncmesh.steady.writesPerSecond,
      etcd: etcd.steady.writesPerSecond,
      format: formatInt,
      target: { text: '≥ 1×', met: syncmesh.steady.writesPerSecond >= etcd.steady.writesPerSecond },
    },
    {
      metric: 'failover, default timeouts (kill -9 → first write)',
      syncmesh: failover(syncmesh, 'default'),
      etcd: failover(etcd, 'default'),
      format: formatMs,
      target: notAbove(failover(syncmesh, 'default'), failover(etcd, 'default')),
    },
    {
      metric: 'failover, LAN-tuned timeouts (kill -9 → first write)',
      syncmesh: failover(syncmesh, 'lan'),
      etcd: failover(etcd, 'lan'),
      format: formatMs,
      target: { text: `≤ ${failoverLimitMs} ms`, met: failover(syncmesh, 'lan') <= failoverLimitMs },
    },
    {
      metric: 'failover, default timeouts, leader frozen (SIGSTOP → first write)',
      syncmesh: median(syncmesh.frozenFailoverMs),
      etcd: median(etcd.frozenFailoverMs),
      format: formatMs,
    },
    {
      metric: 'server CPU per write, sequential (3 members)',
      syncmesh: syncmesh.steady.cpuMicrosPerSequentialWrite,
      etcd: etcd.steady.cpuMicrosPerSequentialWrite,
      format: formatMicros,
    },
    {
      metric: `server CPU per write, ${sizes.concurrentWriters} writers (3 members)`,
      syncmesh: syncmesh.steady.cpuMicrosPerConcurrentWrite,
      etcd: etcd.steady.cpuMicrosPerConcurrentWrite,
      format: formatMicros,
    },
  ]
  const flags = (s: SystemResults, profile: TimeoutProfile) =>
    s.timeoutFlags[profile].length === 0 ? 'its defaults' : `\`${s.timeoutFlags[profile].join(' ')}\``

  return [
    '## Control plane: syncmesh vs etcd',
    '',
    `syncmesh's metadata Raft group against etcd ${results.etcdVersion} (Debian \`etcd-server\`), each as three members`,
    'on 127.0.0.1 (child processes with fresh data directories, on the same disk) with fsync on: syncmesh appends',
    'every Raft Ready to its Raft WAL as one record and fdatasyncs it; etcd runs with its default durability (no',
    "`--unsafe-no-fsync`). This process drives both over HTTP/JSON with one client, Node's `fetch` with keep-alive: a",
    `syncmesh write is \`PUT /v1/namespaces/<key>\` with \`${writtenValue}\` and the admin token (200 once`,
    'committed and applied on the node that took it), an etcd write is `POST /v3/kv/put` of the same bytes through',
    `its v3 JSON gateway (200 once committed). Keys cycle over ${formatInt(sizes.keySpace)} names.` +
      (results.quick ? ' **Quick run: reduced sizes, for smoke testing only.**' : ''),
    '',
    `- **Steady state**, default timeouts, a fresh cluster per run: ${formatInt(sizes.warmupWrites)} warm-up writes (Node's JIT takes`,
    '  about that many to settle; etcd gets the same), then',
    `  ${formatInt(sizes.sequentialWrites)} sequential writes to the leader (latency: request sent → answer read), then`,
    `  ${sizes.concurrentWriters} writers that each write to the leader in a loop for ${sizes.throughputMs / 1000} s (writes/s: answered writes / elapsed time).`,
    `- **Failover**: a write every ${sizes.failoverWriteIntervalMs} ms to the two followers in turn, without waiting for`,
    `  answers (a follower forwards to the leader); after ${sizes.beforeKillMs} ms the leader gets SIGKILL. The time runs from`,
    '  the kill until the first write issued after it is answered with success. With default timeouts this follows',
    '  the steady-state measurement on the same cluster; with LAN-tuned timeouts each run has a fresh cluster.',
    '  A killed process has its sockets closed by the kernel: syncmesh followers take the closed peer link to the',
    '  leader as the base election timeout having passed and campaign after its random part only (etcd waits out',
    '  the whole timeout). A **frozen** leader (SIGSTOP, default timeouts, a fresh cluster per run) keeps its',
    '  sockets open, so there both systems wait for the election timeout.',
    `- **Timeouts**: default — syncmesh ${flags(syncmesh, 'default')}, etcd ${flags(etcd, 'default')}: heartbeat 100 ms, an election`,
    `  after 1–2 s of silence for both. LAN-tuned — syncmesh ${flags(syncmesh, 'lan')}, etcd ${flags(etcd, 'lan')}:`,
    '  heartbeat 15 ms, an election after 150–300 ms for both.',
    '- **Server CPU**: utime + stime of the three members from /proc/<pid>/stat, per answered write.',
    `- ${sizes.runs} runs per system and timeout profile, the systems taking turns; every figure is the median of its runs.`,
    "  The load generator (this process) shares the machine's CPUs with the three members.",
    '',
    `|  | syncmesh | etcd ${results.etcdVersion} | syncmesh / etcd | target | met? |`,
    '| --- | ---: | ---: | ---: | --- | --- |',
    ...rows.map((r) =>
      tableRow([r.metric, r.format(r.syncmesh), r.format(r.etcd), formatRatio(r.syncmesh / r.etcd), r.target?.text ?? '', metCell(r.target)]),
    ),
    '',
    'Failover samples in run order:',
    '',
    ...(['default', 'lan'] as const).map((profile) => {
      const name = profile === 'default' ? 'default' : 'LAN-tuned'
      return `- ${name} timeouts: syncmesh ${samples(syncmesh.failoverMs[profile])}; etcd ${samples(etcd.failoverMs[profile])}`
    }),
    `- leader frozen, default timeouts: syncmesh ${samples(syncmesh.frozenFailoverMs)}; etcd ${samples(etcd.frozenFailoverMs)}`,
    '',
    'Steady state run by run:',
    '',
    '| run | syncmesh p50 | syncmesh p99 | syncmesh writes/s | etcd p50 | etcd p99 | etcd writes/s |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...syncmesh.steadyRuns.map((run, i) => tableRow([String(i + 1), ...steadyCells(run), ...steadyCells(etcd.steadyRuns[i])])),
    '',
  ].join('\n')
}

function steadyCells(run: SteadyRun | undefined): string[] {
  return run ? [formatMs(run.latencyP50Ms), formatMs(run.latencyP99Ms), formatInt(run.writesPerSecond)] : ['', '', '']
}

const tableRow = (cells: readonly string[]) => `| ${cells.join(' | ')} |`
const metCell = (target: Row['target']) => (target ? (target.met ? 'met' : '**not met**') : '')
const samples = (values: readonly number[]) => values.map(formatMs).join(', ')
const formatInt = (v: number) => Math.round(v).toLocaleString('en-US')
const formatMs = (v: number) => (v >= 100 ? `${formatInt(v)} ms` : `${v.toFixed(1)} ms`)
const formatMicros = (v: number) => `${formatInt(v)} µs`
const formatRatio = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–')
