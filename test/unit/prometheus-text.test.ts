import fc from 'fast-check'
import { expect, test } from 'vitest'
import { parseMetrics } from '../../client/web/prometheus-text.js'
import { createMetrics } from '../../src/metrics.js'

test("the admin page's reading of /metrics sums each metric over its labels and skips what is not a sample", async () => {
  const metrics = createMetrics()
  metrics.updatesApplied.inc(7)
  metrics.commitSeconds.observe(0.002)
  metrics.commitSeconds.observe(0.004)
  const parsed = parseMetrics(await metrics.registry.metrics())
  expect(parsed.get('syncmesh_updates_applied_total')).toBe(7)
  expect(parsed.get('syncmesh_lmdb_commit_seconds_count')).toBe(2)
  expect(parsed.get('syncmesh_lmdb_commit_seconds_sum')).toBeCloseTo(0.006)
  const text = ['# HELP x y', 'a{peer="n1"} 2', 'a{peer="n2"} 3', 'b NaN', 'c 1e3', 'not a line', ''].join('\n')
  expect(Object.fromEntries(parseMetrics(text))).toEqual({ a: 5, c: 1000 })
  fc.assert(fc.property(fc.string({ unit: 'binary' }), (junk) => void parseMetrics(junk)))
})
