import type { ReplayResult } from '../scenarios/replay.js'
import { compare, formatBytes, formatInt, formatMicros, ratioOf, repetitionNote, table, type Row, type TargetCheck } from './tables.js'

const tracesReadme = 'https://github.com/josephg/editing-traces'

const credits: Record<string, string[]> = {
  'automerge-paper': [
    'Trace credit: the automerge-paper editing trace is the keystroke history of the LaTeX source of Martin Kleppmann',
    'and Alastair R. Beresford, "A Conflict-Free Replicated JSON Datatype" (arXiv:1608.03960), first published by',
    'Martin Kleppmann in [automerge/automerge-perf](https://github.com/automerge/automerge-perf) and converted by',
    `Joseph Gentle in [josephg/editing-traces](${tracesReadme}) (commit 762fa6c, \`sequential_traces/automerge-paper.json.gz\`).`,
    'Used under [CC BY 4.0](https://creativecommons.org/licenses/by/4.0/); the file is an unmodified copy.',
  ],
  clownschool: [
    'Trace credit: the clownschool trace (three people writing one text together) is from Joseph Gentle\'s',
    `[josephg/editing-traces](${tracesReadme}) (commit 762fa6c, \`concurrent_traces/clownschool.json.gz\`),`,
    'used under [CC BY 4.0](https://creativecommons.org/licenses/by/4.0/); the file is an unmodified copy.',
  ],
}

const inProcessMicros = (r: ReplayResult) => 1e6 / r.ceilingOpsPerSecond

/** Issue 13's targets: server CPU per update at most twice in-process `Y.applyUpdate`'s; end to end at least 3× the reference. */
export function replayTargetChecks(r: ReplayResult): TargetCheck[] {
  const checks: TargetCheck[] = []
  const syncmesh = r.servers.find((s) => s.kind === 'syncmesh')
  if (syncmesh) {
    const ratio = syncmesh.serverCpuMicrosPerUpdate / inProcessMicros(r)
    checks.push({ id: `replay-cpu:${r.trace}`, benchmark: `trace replay, ${r.trace}`, what: 'server CPU per update vs in-process Y.applyUpdate', ratio, target: '≤ 2×', met: ratio <= 2 })
  }
  const rate = ratioOf(r.servers, (s) => s.opsPerSecond)
  if (rate !== undefined) {
    checks.push({ id: `replay-rate:${r.trace}`, benchmark: `trace replay, ${r.trace}`, what: 'updates/s end to end vs the reference', ratio: rate, target: '≥ 3×', met: rate >= 3 })
  }
  return checks
}

export function replaySection(r: ReplayResult, check: (id: string) => TargetCheck | undefined): string[] {
  const prefix = r.updates < r.totalTxns
  const rows: Row[] = [
    compare(r.servers, 'updates/s, first send until the reader holds the expected text', (s) => s.opsPerSecond, formatInt, check(`replay-rate:${r.trace}`)),
    compare(r.servers, 'server CPU per update', (s) => s.serverCpuMicrosPerUpdate, formatMicros),
    compare(r.servers, 'server CPU per update / in-process Y.applyUpdate per update', (s) => s.serverCpuMicrosPerUpdate / inProcessMicros(r), (v) => `${v.toFixed(2)}×`, check(`replay-cpu:${r.trace}`)),
    compare(r.servers, 'updates/s the server CPU alone would allow (10⁶ / CPU per update)', (s) => 1e6 / s.serverCpuMicrosPerUpdate, formatInt),
    compare(r.servers, 'first replay on the fresh process: updates/s', (s) => s.firstReplayOpsPerSecond, formatInt),
    compare(r.servers, 'first replay on the fresh process: server CPU per update', (s) => s.firstReplayCpuMicrosPerUpdate, formatMicros),
    compare(r.servers, 'wall time', (s) => s.seconds, (v) => `${v.toFixed(2)} s`),
    compare(r.servers, 'load generator CPU per update (writer + reader, this process)', (s) => s.clientCpuMicrosPerUpdate, formatMicros),
    compare(r.servers, 'update messages the reader received', (s) => s.readerMessages, formatInt),
  ]
  return [
    `## Trace replay: ${r.trace}`,
    '',
    `Trace: \`${r.trace}\` (\`../shared/traces/${r.trace}.json.gz\`${r.concurrent ? ', concurrent: several authors editing at once' : ''}), ` +
      (prefix
        ? `**prefix of the first ${formatInt(r.updates)} of ${formatInt(r.totalTxns)} transactions**, checked against the text that prefix produces.`
        : `**the whole trace, ${formatInt(r.updates)} transactions**, checked against its \`endContent\`.`) +
      ` ${formatInt(r.updates)} updates, ${formatBytes(r.updateBytes)} in total.`,
    '',
    'Method: the trace is first replayed into local Y.Docs (one `transact` per transaction; for a concurrent trace one',
    "doc per author, which before each of its transactions takes what it lacks of that transaction's causal history)",
    'and every v1 `update` event is kept, so that generating load costs only sending. Per server, a writer and a reader',
    '`WebsocketProvider` (y-websocket, `ws`, no BroadcastChannel) join a fresh document; once both are synced the writer',
    'applies the updates one by one (`Y.applyUpdate`, so each goes out as its own message), yielding to the event loop',
    "every 2,000. Time runs from the first send until the reader's text equals the expected text. Each server",
    'process replays the trace twice, into two documents: the figures are the second replay\'s, as the in-process',
    'one is of code this process has run already; the first replay (server code still being compiled) has its own',
    'rows. In process: the same updates applied to one fresh Y.Doc.',
    repetitionNote(r.servers),
    '',
    ...table(
      r.servers.map((s) => s.kind),
      rows,
    ),
    '',
    `In process (\`Y.applyUpdate\` into one Y.Doc, no network): **${formatInt(r.ceilingOpsPerSecond)} updates/s** ` +
      `(${formatMicros(inProcessMicros(r))} per update).`,
    '',
    'The load generator shares the 2 CPUs with the server, so wall-clock rates are bounded by both; the server CPU',
    'per update is the figure that does not depend on the load generator.',
    '',
    ...(credits[r.trace] ?? []),
    '',
  ]
}
