import { expect, test } from 'vitest'
import { controlPlaneTargetChecks } from '../../benchmarks/report/control-plane-report.js'
import type { ControlPlaneResults } from '../../benchmarks/scenarios/control-plane.js'
import { replicationTargetChecks, type ReplicationBenchResults } from '../../benchmarks/scenarios/replication.js'

// Only the fields the checks read; the rest of a run's results does not matter to them.
const steady = (latencyP50Ms: number, latencyP99Ms: number, writesPerSecond: number) => ({ steady: { latencyP50Ms, latencyP99Ms, writesPerSecond } })
const controlPlane = (syncmesh: ReturnType<typeof steady>, etcd: ReturnType<typeof steady>) =>
  ({ sizes: { concurrentWriters: 32 }, systems: { syncmesh, etcd } }) as unknown as ControlPlaneResults
const healed = (healToConvergedMs: number) => ({ heal: { healToConvergedMs, documents: 10_000 } }) as unknown as ReplicationBenchResults

test('the control-plane targets: latency at or below etcd, throughput at or above, as ratios', () => {
  const checks = controlPlaneTargetChecks(controlPlane(steady(1.6, 5.5, 2_675), steady(1.6, 4.1, 1_615)))
  expect(checks.map(({ id, met }) => [id, met])).toEqual([
    ['control-p50', true],
    ['control-p99', false],
    ['control-writes', true],
  ])
  expect(checks[1]!.ratio).toBeCloseTo(5.5 / 4.1)
  expect(checks[2]!).toMatchObject({ target: '≥ 1×', what: 'writes/s, 32 concurrent writers vs etcd' })
  expect(controlPlaneTargetChecks(undefined)).toEqual([])
})

test('the partition-heal target: converged within 2 s of the heal', () => {
  expect(replicationTargetChecks(healed(1_500))).toMatchObject([{ id: 'partition-heal', ratio: 0.75, met: true }])
  expect(replicationTargetChecks(healed(2_670))).toMatchObject([{ ratio: 1.335, met: false }])
  expect(replicationTargetChecks(undefined)).toEqual([])
})
