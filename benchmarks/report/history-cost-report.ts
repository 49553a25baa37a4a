import type { Environment } from '../harness/environment.js'
import type { HistoryCostResult, HistoryVariant, HistoryVariantResult, Positions } from '../scenarios/history-cost.js'
import { formatBytes, formatInt, formatMs, formatRatio, pad } from './tables.js'

const heading = '## Version history (issue 15): space and time on the editing traces'

const variantLabel = (v: HistoryVariantResult) =>
  v.variant === 'none' ? 'no history' : v.variant === 'default' ? `keep ${formatInt(v.keepVersions)} versions (default)` : 'keep every version'

const totalBytes = (v: HistoryVariantResult) => v.docBytes + v.historyBytes

interface HistoryRow {
  metric: string
  value: (v: HistoryVariantResult) => string
  /** For the rows where it means something: the figure a ratio to the run without history divides. */
  ratioOf?: (v: HistoryVariantResult) => number
}

const dash = '–'
const orDash = <T>(value: T | null, format: (value: T) => string) => (value === null ? dash : format(value))
const positionMs = (pick: (v: HistoryVariantResult) => Positions<number> | null, at: keyof Positions<number>) => (v: HistoryVariantResult) =>
  orDash(pick(v), (p) => formatMs(p[at]))

function rows(r: HistoryCostResult): HistoryRow[] {
  const restoreRow = (at: keyof Positions<number>): HistoryRow => ({
    metric: `restore the ${at} readable version (POST …/restore; median of ${r.restoreRounds}, each on a fresh copy of the store)`,
    value: (v) => orDash(v.restoreAt, (p) => `${formatMs(p[at])} (${formatInt(v.updatesAt![at])} updates)`),
  })
  return [
    { metric: 'versions made / retained at the end', value: (v) => `${formatInt(v.versionsMade)} / ${formatInt(v.versionsRetained)}` },
    {
      metric: 'retained versions the node will not read (503 `version_incomplete`)',
      value: (v) => (v.variant === 'none' ? dash : `**${formatInt(v.versionsIncomplete.length)}**`),
    },
    { metric: 'document stored: base + log', value: (v) => formatBytes(v.docBytes), ratioOf: (v) => v.docBytes },
    { metric: 'history document stored: base + log', value: (v) => formatBytes(v.historyBytes) },
    { metric: '**stored in all: document + history**', value: (v) => `**${formatBytes(totalBytes(v))}**`, ratioOf: totalBytes },
    { metric: 'LMDB file (data.mdb) after closing, free pages included', value: (v) => formatBytes(v.fileBytes), ratioOf: (v) => v.fileBytes },
    { metric: 'compactions of the document during the replay', value: (v) => formatInt(v.compactions) },
    { metric: 'replay wall time, versions included', value: (v) => `${v.replaySeconds.toFixed(2)} s`, ratioOf: (v) => v.replaySeconds },
    { metric: 'CPU per update replayed (node and REST client, one process)', value: (v) => `${v.replayCpuMicrosPerUpdate.toFixed(1)} µs`, ratioOf: (v) => v.replayCpuMicrosPerUpdate },
    { metric: 'make a version (POST …/versions): p50 / p99', value: (v) => orDash(v.create, (t) => `${formatMs(t.p50Ms)} / ${formatMs(t.p99Ms)}`) },
    {
      metric: 'read a version (GET …/versions/:id, JSON), every retained one that reads, once: p50 / p99 / max',
      value: (v) => orDash(v.read, (t) => `${formatMs(t.p50Ms)} / ${formatMs(t.p99Ms)} / ${formatMs(t.maxMs)}`),
    },
    { metric: `read the oldest readable version (median of ${r.readRounds})`, value: positionMs((v) => v.readAt, 'oldest') },
    { metric: `read the middle readable version (median of ${r.readRounds})`, value: positionMs((v) => v.readAt, 'middle') },
    { metric: `read the newest readable version (median of ${r.readRounds})`, value: positionMs((v) => v.readAt, 'newest') },
    restoreRow('oldest'),
    restoreRow('middle'),
    restoreRow('newest'),
  ]
}

function traceTable(r: HistoryCostResult): string[] {
  const none = r.variants.find((v) => v.variant === 'none')
  const withHistory = r.variants.filter((v) => v.variant !== 'none')
  const head = ['', ...r.variants.map(variantLabel), ...withHistory.map((v) => `${v.variant === 'default' ? `keep ${formatInt(v.keepVersions)}` : 'keep every'} / no history`)]
  const lines = [`| ${head.join(' | ')} |`, `| ${['---', ...head.slice(1).map(() => '---:')].join(' | ')} |`]
  for (const row of rows(r)) {
    const ratios = withHistory.map((v) => (row.ratioOf && none ? formatRatio(row.ratioOf(v) / row.ratioOf(none)) : ''))
    lines.push(`| ${[row.metric, ...r.variants.map(row.value), ...ratios].join(' | ')} |`)
  }
  return lines
}

function traceSubsection(r: HistoryCostResult): string[] {
  const prefix = r.updates < r.totalTxns
  const scope = prefix ? `the first ${formatInt(r.updates)} of ${formatInt(r.totalTxns)} transactions` : `the whole trace, ${formatInt(r.updates)} transactions`
  const perUpdate = (r.inProcessApplyMs * 1000) / r.updates
  return [
    `### ${r.trace}`,
    '',
    `\`../shared/traces/${r.trace}.json.gz\`${r.concurrent ? ' (concurrent)' : ''}: ${scope}, ${formatBytes(r.updateBytes)} of updates; a version after every ${formatInt(r.versionEveryUpdates)}.`,
    '',
    ...traceTable(r),
    '',
    ...r.variants.filter((v) => v.versionsIncomplete.length > 0).map(incompleteNote),
    `In process, for reference: \`Y.applyUpdate\` of the ${formatInt(r.updates)} updates one by one into one Y.Doc takes ` +
      `${formatInt(r.inProcessApplyMs)} ms (${perUpdate.toFixed(1)} µs per update); the whole document encoded as one update is ` +
      `${formatBytes(r.encodedGcBytes)} as Yjs's garbage collection leaves it, ${formatBytes(r.encodedNoGcBytes)} with all deleted content kept.`,
    '',
  ]
}

function incompleteNote(v: HistoryVariantResult): string {
  const shown = v.versionsIncomplete.map(formatInt)
  const list = shown.length > 12 ? `${shown.slice(0, 12).join(', ')}, …` : shown.join(', ')
  return (
    `${variantLabel(v)}: ${formatInt(v.versionsIncomplete.length)} of ${formatInt(v.versionsRetained)} retained versions answer 503 ` +
    `\`version_incomplete\` (the versions after ${list} updates); rebuilt outside the node from its closed store ` +
    `(\`versionDoc\` of the stored document and the version's snapshot), ${formatInt(v.incompleteButHeld)} of them read exactly as ` +
    "the trace's text at that point. They are left out of the read and restore timings.\n"
  )
}

export function historyCostSection(results: readonly HistoryCostResult[], env: Environment): string[] {
  const first = results[0]
  if (!first) return []
  return [
    heading,
    '',
    `Measured ${env.date} at ${env.commit}: ${env.cpus} CPUs (${env.cpuModel}), 1-minute load average ${env.loadAverage.toFixed(2)} at the start, ` +
      `Node ${env.node}. Reproduce with \`npm run bench -- --only history\` (\`--quick\` for prefixes of the traces).`,
    '',
    'Method: for every trace in ../shared/traces, the same replay three times, each into a node started in this process',
    '(`startNode`: real LMDB in a fresh temp directory, REST on 127.0.0.1, no client tokens): without history',
    '(keepVersions 0, no versions), with the default retention, and keeping every version. The updates are written',
    `through the node's DocStore (\`node.docs.apply\`, its one write path) ${formatInt(first.versionEveryUpdates)} at a time — one group commit each —`,
    `while the document is held open as a live session would hold it; with history, a named version is made after each`,
    `batch (\`POST /v1/docs/:name/versions\`). Compaction runs at the defaults (${formatInt(first.compactAfterUpdates)} updates or`,
    `${formatBytes(first.compactAfterBytes)} of log). Automatic versions are off. Stored bytes are the document's meta (baseBytes + logBytes) and its`,
    "history document's, read from the closed node's store; the LMDB file's size also counts the free pages LMDB keeps",
    "for reuse. Then every retained version is read once over REST and checked against the trace's text at that point,",
    `and the oldest, middle and newest of those that read ${first.readRounds} times more. Each restore runs on a node started on a fresh copy of the`,
    'closed store, with the document loaded before the clock starts, and is checked by reading the document back.',
    'Time is the request sent until the answer is read, from this process.',
    '',
    ...results.flatMap(traceSubsection),
  ]
}

export function historyCostSummary(results: readonly HistoryCostResult[]): string[] {
  const lines: string[] = []
  for (const r of results) {
    const none = r.variants.find((v) => v.variant === 'none')
    for (const v of r.variants) {
      const ratio = none ? ` (${formatRatio(totalBytes(v) / totalBytes(none))})` : ''
      const read = v.read ? `, read p50 ${formatMs(v.read.p50Ms)}` : ''
      const restore = v.restoreAt ? `, restore oldest ${formatMs(v.restoreAt.oldest)}` : ''
      lines.push(`history   ${pad(`${r.trace} ${variantShort[v.variant]}`)} stored ${formatBytes(totalBytes(v))}${ratio}${read}${restore}`)
    }
  }
  return lines
}

const variantShort: Record<HistoryVariant, string> = { none: 'none', default: 'default', every: 'every' }
