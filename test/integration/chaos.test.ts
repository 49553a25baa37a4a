import { expect, test } from 'vitest'
import { runChaos, type ChaosReport } from '../chaos/chaos-run.js'

// The short schedules CI runs; `npm run chaos` runs long ones (see README, Tests).
const schedules = [
  { nodes: 3, seconds: 30, seed: 1 },
  { nodes: 5, seconds: 20, seed: 2 },
]

/** Where a failing schedule leaves every node's log lines (ignored by git), for the run to be read afterwards. */
const logDir = 'chaos-logs'

function summary(report: ChaosReport): string {
  return [
    `seed ${report.seed}, ${report.nodes} nodes: ${JSON.stringify(report, null, 1)}`,
    `node logs: ${logDir}/seed-${report.seed}-*.log`,
    `replay: npm run chaos -- --seconds ${report.seconds} --seed ${report.seed} --nodes ${report.nodes}`,
  ].join('\n')
}

for (const schedule of schedules) {
  test(
    `chaos, ${schedule.nodes} nodes, ${schedule.seconds} s of faults (seed ${schedule.seed}): nothing acknowledged is lost, no deletion comes back, every replica the same, every change in every node's feed and sent to the webhook`,
    async () => {
      const report = await runChaos({ ...schedule, logDir })
      // The premises: the schedule did inject faults, and the cluster did acknowledge writes and deletions.
      expect(report.faults, summary(report)).toBeGreaterThan(5)
      expect(report.writesAcknowledged, summary(report)).toBeGreaterThan(50)
      expect(report.deletionsAcknowledged, summary(report)).toBeGreaterThan(0)
      expect(
        {
          lost: report.lost,
          resurrected: report.resurrected,
          divergent: report.divergent,
          missedChanges: report.missedChanges,
          missedWebhookEvents: report.missedWebhookEvents,
          died: report.died,
          problems: report.problems,
        },
        summary(report),
      ).toEqual({ lost: 0, resurrected: 0, divergent: 0, missedChanges: 0, missedWebhookEvents: 0, died: 0, problems: [] })
      expect(report.convergeMs, summary(report)).not.toBeNull()
    },
    240_000,
  )
}
