import type { ServerKind } from '../harness/servers.js'
import { serverLabels } from '../harness/servers.js'

/** Figures of one scenario as RESULTS.md tables: one column per server, syncmesh's ratio to each other. */

/** A target of the issue, checked: syncmesh's figure over the compared server's. */
export interface TargetCheck {
  id: string
  benchmark: string
  what: string
  ratio: number
  target: string
  met: boolean
}

export interface Row {
  metric: string
  values: string[]
  ratios: string[]
  target: string
  met: string
}

/** One table row: each server's figure, syncmesh's ratio to every other server, and the target if there is one. */
export function compare<S extends { kind: ServerKind }>(
  servers: readonly S[],
  metric: string,
  value: (s: S) => number,
  format: (v: number) => string,
  check?: TargetCheck,
): Row {
  const syncmesh = servers.find((s) => s.kind === 'syncmesh')
  const others = servers.filter((s) => s.kind !== 'syncmesh')
  return {
    metric,
    values: servers.map((s) => format(value(s))),
    ratios: others.map((o) => formatRatio(syncmesh ? value(syncmesh) / value(o) : Number.NaN)),
    target: check?.target ?? '',
    met: check ? (check.met ? 'met' : '**not met**') : '',
  }
}

/** syncmesh's figure over another server's (the reference unless told), when both ran. */
export function ratioOf<S extends { kind: ServerKind }>(servers: readonly S[], value: (s: S) => number, to: ServerKind = 'reference'): number | undefined {
  const syncmesh = servers.find((s) => s.kind === 'syncmesh')
  const other = servers.find((s) => s.kind === to)
  return syncmesh && other ? value(syncmesh) / value(other) : undefined
}

export function table(kinds: readonly ServerKind[], rows: readonly Row[]): string[] {
  const others = kinds.filter((k) => k !== 'syncmesh')
  const head = ['', ...kinds.map((k) => serverLabels[k]), ...others.map((k) => `syncmesh / ${serverLabels[k]}`), 'target', 'met?']
  const align = ['---', ...kinds.map(() => '---:'), ...others.map(() => '---:'), '---', '---']
  return [
    `| ${head.join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...rows.map((r) => `| ${[r.metric, ...r.values, ...r.ratios, r.target, r.met].join(' | ')} |`),
  ]
}

export function repetitionNote(servers: readonly { runs: number }[]): string {
  const runs = servers[0]?.runs ?? 1
  return runs === 1
    ? 'Each server runs once, on a fresh process.'
    : `Each server runs ${runs} times, in turn with the others and on a fresh process each time; every figure is the median of its runs.`
}

export const formatInt = (v: number) => Math.round(v).toLocaleString('en-US')
export const formatMicros = (v: number) => `${v.toFixed(1)} µs`
export const formatMs = (v: number) => `${v.toFixed(1)} ms`
export const formatRatio = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–')
export const pad = (s: string) => s.padEnd(20)

export function formatBytes(v: number): string {
  if (Math.abs(v) >= 1024 ** 3) return `${(v / 1024 ** 3).toFixed(1)} GiB`
  if (Math.abs(v) >= 1024 ** 2) return `${(v / 1024 ** 2).toFixed(1)} MiB`
  if (Math.abs(v) >= 1024) return `${(v / 1024).toFixed(1)} KiB`
  return `${Math.round(v)} B`
}
