import type { Environment } from '../harness/environment.js'
import type { ControlPlaneResults } from '../scenarios/control-plane.js'
import { controlPlaneTargetChecks, formatControlPlaneSection } from './control-plane-report.js'
import type { FanoutResult } from '../scenarios/fanout.js'
import { fanoutSection, fanoutTargetChecks, type FanoutTargetId } from './fanout-report.js'
import { restSection, restTargetChecks } from './rest-report.js'
import { storedDocsSection, storedDocsTargetChecks } from './stored-docs-report.js'
import type { StoredDocsResult } from '../scenarios/stored-docs.js'
import type { RestWritesResult } from '../scenarios/rest-writes.js'
import { compare, formatBytes, formatInt, formatRatio, pad, ratioOf, table, type Row, type TargetCheck } from './tables.js'
import type { ManyDocsResult, ManyDocsServerResult } from '../scenarios/many-docs.js'
import { formatReconciliationSection, reconciliationSummary, type ReconciliationResults } from '../scenarios/reconciliation.js'
import type { ReplayResult } from '../scenarios/replay.js'
import { formatReplicationSection, replicationSummary, replicationTargetChecks, type ReplicationBenchResults } from '../scenarios/replication.js'
import { serverLabels } from '../harness/servers.js'
import { replaySection, replayTargetChecks } from './replay-report.js'
import { historyCostSection, historyCostSummary } from './history-cost-report.js'
import type { HistoryCostResult } from '../scenarios/history-cost.js'

export interface RunResults {
  environment: Environment
  quick: boolean
  seconds: number
  /** One per trace. */
  replay?: ReplayResult[]
  manyDocs?: ManyDocsResult
  fanout?: FanoutResult
  burst?: FanoutResult
  restWrites?: RestWritesResult
  storedDocs?: StoredDocsResult
  controlPlane?: ControlPlaneResults
  reconcile?: ReconciliationResults
  replication?: ReplicationBenchResults
  /** One per trace. */
  history?: HistoryCostResult[]
}

type TargetId = 'docs-rss' | 'docs-rss-per-doc' | FanoutTargetId

export function renderMarkdown(results: RunResults): string {
  const { environment: env } = results
  const lines = [
    '# syncmesh benchmark results',
    '',
    `Written by \`npm run bench${results.quick ? ' -- --quick' : ''}\` (benchmarks/run.ts); every run overwrites this file, ` +
      'except that a run of some benchmarks (`--only`) replaces just their sections.' +
      (results.quick ? ' **Quick run: reduced sizes, for smoke testing only.**' : ''),
    '',
    `- Date: ${env.date} (run took ${Math.round(results.seconds)} s)`,
    `- Machine: ${env.cpus} CPUs (${env.cpuModel}), ${formatBytes(env.memoryBytes)} RAM; 1-minute load average at the start: ${env.loadAverage.toFixed(2)}`,
    `- Node ${env.node}; syncmesh at ${env.commit}`,
    `- Packages: ${Object.entries(env.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}`,
    '- Every server is a child process on 127.0.0.1, started fresh for each benchmark and alone on the machine',
    '  apart from the load generator (this process). syncmesh runs `syncmesh start` with a fresh data directory and',
    '  its default durability: an update is fsynced in LMDB before it is forwarded. @y/websocket-server runs in its',
    '  persistence-free default (a wrapper doing what its bin does) and Hocuspocus as a bare `Server` without',
    '  extensions: both keep documents in memory only.',
    '- Server CPU is utime + stime of the server process from /proc/<pid>/stat (every thread; clock-tick resolution).',
    '',
  ]
  const checks = targetChecks(results)
  const check = (id: TargetId) => checks.find((c) => c.id === id)
  for (const r of results.replay ?? []) lines.push(...replaySection(r, (id) => checks.find((c) => c.id === id)))
  if (results.manyDocs) lines.push(...manyDocsSection(results.manyDocs, check))
  if (results.fanout) lines.push(...fanoutSection(results.fanout, check))
  if (results.burst) lines.push(...fanoutSection(results.burst, check))
  if (results.restWrites) lines.push(...restSection(results.restWrites))
  if (results.storedDocs) lines.push(...storedDocsSection(results.storedDocs))
  if (results.history) lines.push(...historyCostSection(results.history, env))
  lines.push(...targetsSection(checks))
  if (results.controlPlane) lines.push('', formatControlPlaneSection(results.controlPlane))
  if (results.reconcile) lines.push('', formatReconciliationSection(results.reconcile))
  if (results.replication) lines.push('', formatReplicationSection(results.replication))
  return lines.join('\n') + '\n'
}

/**
 * `markdown` with the `## ` section that `section` starts with (its first line) replaced by `section`, or, when there
 * is none, with `section` put before the heading `newBefore` (or at the end). A section runs until the next `## `.
 */
export function replaceSection(markdown: string, section: string, newBefore?: string): string {
  const heading = section.slice(0, section.indexOf('\n'))
  const lines = markdown.split('\n')
  const start = lines.indexOf(heading)
  const before = newBefore === undefined ? -1 : lines.indexOf(newBefore)
  if (start === -1 && before !== -1) {
    return [...lines.slice(0, before), ...section.trimEnd().split('\n'), '', ...lines.slice(before)].join('\n').trimEnd() + '\n'
  }
  if (start === -1) return `${markdown.trimEnd()}\n\n${section.trimEnd()}\n`
  const next = lines.findIndex((line, i) => i > start && line.startsWith('## '))
  const after = next === -1 ? [] : ['', ...lines.slice(next)]
  return [...lines.slice(0, start), ...section.trimEnd().split('\n'), ...after].join('\n').trimEnd() + '\n'
}

/** The `## ` sections of `markdown`, each from its heading to the next. */
export function sectionsOf(markdown: string): string[] {
  return markdown.split(/\n(?=## )/).slice(1)
}

/**
 * `next` with every section of `previous` that it lacks appended: sections written by hand (before/after checks,
 * the chaos runs' figures) survive a full run, which renders the rest anew.
 */
export function keepOtherSections(next: string, previous: string): string {
  const headings = new Set(next.split('\n').filter((line) => line.startsWith('## ')))
  const kept = sectionsOf(previous).filter((section) => !headings.has(section.slice(0, section.indexOf('\n'))))
  return [next.trimEnd(), ...kept.map((section) => section.trimEnd())].join('\n\n') + '\n'
}

export function renderSummary(results: RunResults): string {
  const lines: string[] = []
  const { replay, manyDocs, fanout, burst } = results
  for (const r of replay ?? []) {
    for (const s of r.servers) {
      lines.push(
        `replay    ${pad(`${r.trace} ${serverLabels[s.kind]}`)} ${formatInt(s.opsPerSecond)} updates/s, ` +
          `server CPU ${s.serverCpuMicrosPerUpdate.toFixed(1)} µs/update`,
      )
    }
    lines.push(`replay    ${pad(`${r.trace} in-process`)} ${formatInt(r.ceilingOpsPerSecond)} updates/s`)
  }
  if (manyDocs) {
    for (const s of manyDocs.servers) {
      lines.push(
        `docs      ${pad(serverLabels[s.kind])} RSS ${formatBytes(s.steady.rssBytes)} with ${formatInt(manyDocs.docs)} docs, ` +
          `${formatBytes(s.rssBytesPerDoc)} per doc above idle`,
      )
    }
  }
  for (const [label, r] of [['fan-out', fanout], ['burst', burst]] as const) {
    for (const s of r?.servers ?? []) {
      lines.push(
        `${label.padEnd(9)} ${pad(serverLabels[s.kind])} p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, ` +
          `server CPU ${s.serverCpuMicrosPerDelivery.toFixed(1)} µs per delivered update`,
      )
    }
  }
  for (const check of targetChecks(results)) {
    lines.push(`target    ${check.what}: ${formatRatio(check.ratio)} (${check.target}) ${check.met ? 'met' : 'NOT MET'}`)
  }
  if (results.reconcile) lines.push(...reconciliationSummary(results.reconcile))
  if (results.replication) lines.push(...replicationSummary(results.replication))
  if (results.history) lines.push(...historyCostSummary(results.history))
  if (results.controlPlane) {
    for (const s of Object.values(results.controlPlane.systems)) {
      lines.push(
        `control   ${pad(s.system)} write p50 ${s.steady.latencyP50Ms.toFixed(1)} ms, p99 ${s.steady.latencyP99Ms.toFixed(1)} ms, ` +
          `${formatInt(s.steady.writesPerSecond)} writes/s at 32 writers`,
      )
    }
  }
  return lines.join('\n') + '\n'
}

function manyDocsSection(r: ManyDocsResult, check: (id: TargetId) => TargetCheck | undefined): string[] {
  const docs = formatInt(r.docs)
  const perDoc = (m: (s: ManyDocsServerResult) => number) => (s: ManyDocsServerResult) => (m(s) - s.idleAtStart.rssBytes) / r.docs
  const rows: Row[] = [
    compare(r.servers, 'RSS idle, just after start', (s) => s.idleAtStart.rssBytes, formatBytes),
    compare(r.servers, 'RSS idle, steady state', (s) => s.idle.rssBytes, formatBytes),
    compare(r.servers, `RSS with ${docs} documents, steady state`, (s) => s.steady.rssBytes, formatBytes, check('docs-rss')),
    compare(r.servers, 'RSS per document above idle, steady state', (s) => s.rssBytesPerDoc, formatBytes, check('docs-rss-per-doc')),
    compare(r.servers, 'RssAnon per document above idle, steady state', (s) => s.anonBytesPerDoc, formatBytes),
    compare(r.servers, `RSS with ${docs} documents, just after connecting`, (s) => s.afterConnect.rssBytes, formatBytes),
    compare(r.servers, 'RSS per document above idle just after start, just after connecting', perDoc((s) => s.afterConnect.rssBytes), formatBytes),
    compare(r.servers, `time to connect, sync and edit ${docs} clients`, (s) => s.connectSeconds, (v) => `${v.toFixed(2)} s`),
  ]
  return [
    '## Many documents',
    '',
    `Method: VmRSS and RssAnon are read from /proc/<pid>/status once the started server has been quiet for 1 s (under`,
    `20 ms of CPU; "just after start"), then every 5 s from ${r.steadyFromMs / 1000} s to ${r.steadyUntilMs / 1000} s after that: the median of those samples is`,
    `the idle steady state. Then ${docs} \`WebsocketProvider\` clients connect, 50 at a time, each to a document of its own;`,
    'each waits for sync and then inserts a short text. The clients stay connected throughout. Memory is read as soon',
    `as the server is quiet again ("just after connecting"), then every 5 s from ${r.steadyFromMs / 1000} s to ${r.steadyUntilMs / 1000} s after the last connection;`,
    'the median of those samples is the steady state, which the targets use, and the memory per document is that',
    'above the idle steady state. The waits matter: V8 keeps the heap a process grew (starting, or while the',
    'clients arrived) until its memory reducer runs, 30–50 s later on this machine; syncmesh gives back about 16 MiB',
    'of its start-up heap then, the reference about 5. Afterwards a fresh client re-reads 5 of the documents to check',
    'that every edit reached the server.',
    '',
    ...table(r.servers.map((s) => s.kind), rows),
    '',
  ]
}

function targetsSection(checks: TargetCheck[]): string[] {
  if (checks.length === 0) return []
  return [
    '## Targets',
    '',
    '| benchmark | target | syncmesh / the figure compared | met? |',
    '| --- | --- | ---: | --- |',
    ...checks.map((c) => `| ${c.benchmark} | ${c.what} ${c.target} | ${formatRatio(c.ratio)} | ${c.met ? 'met' : '**not met**'} |`),
    '',
  ]
}

function targetChecks(results: RunResults): TargetCheck[] {
  const { replay, manyDocs } = results
  const checks: TargetCheck[] = []
  const add = (id: TargetId, benchmark: string, what: string, ratio: number | undefined, target: string, met: (r: number) => boolean) => {
    if (ratio !== undefined) checks.push({ id, benchmark, what, ratio, target, met: met(ratio) })
  }
  for (const r of replay ?? []) checks.push(...replayTargetChecks(r))
  if (manyDocs) {
    const ratio = (value: (s: ManyDocsResult['servers'][number]) => number) => ratioOf(manyDocs.servers, value)
    const docs = formatInt(manyDocs.docs)
    add('docs-rss', 'many documents', `RSS with ${docs} documents vs the reference`, ratio((s) => s.steady.rssBytes), '≤ 1×', (r) => r <= 1)
    add('docs-rss-per-doc', 'many documents', 'RSS per document above idle vs the reference', ratio((s) => s.rssBytesPerDoc), '≤ 1×', (r) => r <= 1)
  }
  checks.push(
    ...fanoutTargetChecks(results.fanout, results.burst),
    ...restTargetChecks(results.restWrites),
    ...storedDocsTargetChecks(results.storedDocs),
    ...replicationTargetChecks(results.replication),
    ...controlPlaneTargetChecks(results.controlPlane),
  )
  return checks
}

