/**
 * What the cluster promised during a chaos run: the writes it acknowledged (a REST write answered 2xx, or
 * `whenDurable` resolved), as marker keys per document, and the deletions it acknowledged (`DELETE` 2xx).
 */
export class AckLog {
  readonly writes = new Map<string, Set<string>>()
  readonly deletions = new Set<string>()
  /** Acknowledgement latencies in ms, by how the write was made. */
  readonly latencies = { rest: [] as number[], whenDurable: [] as number[] }
  attempted = 0

  ackWrite(doc: string, key: string, via: keyof AckLog['latencies'], latencyMs: number): void {
    let keys = this.writes.get(doc)
    if (!keys) this.writes.set(doc, (keys = new Set()))
    keys.add(key)
    this.latencies[via].push(latencyMs)
  }

  get acknowledged(): number {
    let total = 0
    for (const keys of this.writes.values()) total += keys.size
    return total
  }
}

/** The p-th percentile (0–100) of `values`, or null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
