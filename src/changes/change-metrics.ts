import { Gauge, type Registry } from 'prom-client'
import type { ChangeFeed } from './change-feed.js'
import type { ChangeRecorder } from './change-recorder.js'

/** The change feed's gauges, read when /metrics is scraped. */
export function registerChangeFeedMetrics(registry: Registry, feed: ChangeFeed, recorder: ChangeRecorder): void {
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect(this: Gauge) {
        this.set(value())
      },
    })
  gauge('syncmesh_change_feed_consumers', 'Change-feed consumers waiting now: long polls and event streams', () => feed.consumerCount)
  gauge('syncmesh_change_feed_last_seq', 'Number of the latest durable change-feed event', () => recorder.durableSeq)
  gauge('syncmesh_change_feed_due_docs', 'Documents changed whose change-feed event is not durable yet', () => recorder.dueCount)
}
