import type { RestWritesResult, WritePathRun } from '../scenarios/rest-writes.js'
import { formatInt, formatMicros, formatMs, formatRatio, type TargetCheck } from './tables.js'

/** Issue 13's target: a REST write at most 200 µs of server CPU. */
export function restTargetChecks(r: RestWritesResult | undefined): TargetCheck[] {
  if (!r) return []
  const cpu = r.rest.serverCpuMicrosPerWrite
  return [{ id: 'rest-cpu', benchmark: `REST writes, ${r.clients} clients`, what: 'server CPU per write (µs / 200 µs)', ratio: cpu / 200, target: '≤ 1×', met: cpu <= 200 }]
}

export function restSection(r: RestWritesResult): string[] {
  const row = (metric: string, value: (p: WritePathRun) => number, format: (v: number) => string, target = '', met = '') =>
    `| ${metric} | ${format(value(r.rest))} | ${format(value(r.websocket))} | ${formatRatio(value(r.rest) / value(r.websocket))} | ${target} | ${met} |`
  const cpuMet = r.rest.serverCpuMicrosPerWrite <= 200 ? 'met' : '**not met**'
  return [
    `## REST writes: ${r.clients} clients`,
    '',
    `Method: ${r.clients} clients, each writing to a document of its own and waiting for each answer before its next`,
    `write, send the same one-character Yjs updates (an editor's keystrokes): once as \`POST /v1/docs/:name/update\``,
    "(Node's `http.request`, keep-alive; answered 204 once durable), once over WebSocket (a sync update, then a",
    'durability query, answered once durable). Each client first makes',
    `${formatInt(r.warmupWrites)} writes that are not counted, then ${formatInt(r.writesPerClient)} that are (${formatInt(r.clients * r.writesPerClient)} in all); latency`,
    'is request sent → answer read. A fresh syncmesh process per path and run.' +
      (r.runs > 1 ? ` ${r.runs} runs per path, in turn; every figure is the median of its runs.` : ''),
    '',
    '|  | REST | WebSocket | REST / WebSocket | target | met? |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    row('server CPU per write', (p) => p.serverCpuMicrosPerWrite, formatMicros, '≤ 200 µs', cpuMet),
    row('writes/s', (p) => p.writesPerSecond, formatInt),
    row('latency p50', (p) => p.p50Ms, formatMs),
    row('latency p99', (p) => p.p99Ms, formatMs),
    '',
  ]
}
