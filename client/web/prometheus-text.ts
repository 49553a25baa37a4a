/** Each metric of a Prometheus text exposition, summed over its labels (so `name` alone stands for all peers). */
export function parseMetrics(text: string): Map<string, number> {
  const totals = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (!match) continue
    const value = Number(match[3])
    if (Number.isFinite(value)) totals.set(match[1]!, (totals.get(match[1]!) ?? 0) + value)
  }
  return totals
}

