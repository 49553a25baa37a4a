import uPlot from 'uplot'
// esbuild writes it to dist/web/admin.css, which the admin page links.
import 'uplot/dist/uPlot.min.css'
import { parseMetrics } from './prometheus-text.js'

interface ChartSpec {
  title: string
  /** The value to plot at this scrape, from this scrape and the one before; null for none. */
  value(now: Map<string, number>, before: Map<string, number> | null, seconds: number): number | null
}

const delta = (name: string, now: Map<string, number>, before: Map<string, number>) => (now.get(name) ?? 0) - (before.get(name) ?? 0)

const specs: ChartSpec[] = [
  { title: 'updates applied / s', value: (now, before, seconds) => (before && seconds > 0 ? delta('syncmesh_updates_applied_total', now, before) / seconds : null) },
  { title: 'client connections', value: (now) => now.get('syncmesh_connections') ?? 0 },
  {
    title: 'fan-out delay: group commit before forwarding, mean ms',
    value: (now, before) => {
      if (!before) return null
      const commits = delta('syncmesh_lmdb_commit_seconds_count', now, before)
      return commits > 0 ? (1_000 * delta('syncmesh_lmdb_commit_seconds_sum', now, before)) / commits : 0
    },
  },
  { title: 'anti-entropy: documents repaired by the last reconciliations', value: (now) => now.get('syncmesh_reconciliation_last_differing_docs') ?? 0 },
]

/** What a chart shows: the last 5 minutes, at one scrape every 2 s. */
const windowSeconds = 300
const keptSamples = 150

/** Live charts of the node's metrics, one per spec, fed a scrape of /metrics at a time. */
export class MetricCharts {
  private readonly times: number[] = []
  private readonly values: (number | null)[][] = specs.map(() => [])
  private readonly charts: uPlot[]
  private previous: { at: number; metrics: Map<string, number> } | null = null

  constructor(container: HTMLElement) {
    const width = Math.max(260, Math.min(container.clientWidth || 900, 900))
    this.charts = specs.map((spec) => {
      const box = document.createElement('div')
      box.dataset.chart = spec.title
      container.append(box)
      return new uPlot(
        { title: spec.title, width, height: 140, legend: { show: false }, scales: { x: { time: true, range: (_u, _min, max) => [max - windowSeconds, max] } }, series: [{}, { stroke: '#2a6fb0', width: 1.5 }] },
        [[], []],
        box,
      )
    })
  }

  /** Adds the scrape `text` taken at `atSeconds` (Unix time) to every chart. */
  add(text: string, atSeconds: number): void {
    const metrics = parseMetrics(text)
    const seconds = this.previous ? atSeconds - this.previous.at : 0
    this.times.push(atSeconds)
    specs.forEach((spec, i) => this.values[i]!.push(spec.value(metrics, this.previous?.metrics ?? null, seconds)))
    if (this.times.length > keptSamples) {
      this.times.shift()
      for (const series of this.values) series.shift()
    }
    this.previous = { at: atSeconds, metrics }
    this.charts.forEach((chart, i) => chart.setData([this.times, this.values[i]!]))
  }
}
