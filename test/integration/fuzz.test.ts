import { expect, test } from 'vitest'
import { formatReport } from '../fuzz/format-report.js'
import { fuzzNode } from '../fuzz/fuzz-node.js'

// A short run of `npm run fuzz` with a fixed seed; longer runs and other seeds are for `npm run fuzz -- --seconds N --seed S`.
test('a node fuzzed for 8 s on every edge never crashes, keeps every document loadable and still syncs', async () => {
  const report = await fuzzNode({ seconds: 8, seed: 20261206 })
  expect(report.ok, formatReport(report)).toBe(true)
  expect(Object.values(report.inputsSent).every((count) => count > 0), formatReport(report)).toBe(true)
})
