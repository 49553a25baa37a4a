/** Nearest-rank percentile `p` (0 < p ≤ 1) of values sorted in ascending order. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new Error('percentile of no values')
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Field by field, the median of several runs of one measurement. */
export function medianOfRuns<T extends { [K in keyof T]: number }>(runs: readonly T[]): T {
  const first = runs[0]
  if (!first) throw new Error('median of no runs')
  const keys = Object.keys(first) as (keyof T)[]
  return Object.fromEntries(keys.map((key) => [key, median(runs.map((run) => run[key]))])) as T
}
