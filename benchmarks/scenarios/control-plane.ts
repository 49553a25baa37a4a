import type { ClusterMember, ControlPlaneCluster, ControlPlaneSystem, TimeoutProfile } from '../harness/control-plane-cluster.js'
import { ensureEtcdInstalled, etcdTimeoutFlags, startEtcdCluster } from '../harness/etcd.js'
import { cpuTimeMicros } from '../harness/proc-stats.js'
import { medianOfRuns, percentile } from '../harness/stats.js'
import { startSyncmeshCluster, syncmeshTimeoutFlags } from '../harness/syncmesh-cluster.js'

export interface ControlPlaneSizes {
  /** Fresh clusters per system and timeout profile; every figure is the median over them. */
  runs: number
  sequentialWrites: number
  concurrentWriters: number
  throughputMs: number
  /**
   * Writes before the measured ones, so that connections are open and code is compiled. Node's JIT needs about
   * 2,000 writes before syncmesh's latency settles (p50 2.6 ms over the first 50, 1.2 ms after 3,000); both
   * systems get the same.
   */
  warmupWrites: number
  /** Writes cycle over this many keys, so that neither system's state grows with the length of the run. */
  keySpace: number
  /** During failover, one write goes out this often, to the two survivors in turn. */
  failoverWriteIntervalMs: number
  /** The failover write stream runs this long against the healthy cluster before the leader is killed. */
  beforeKillMs: number
}

/** Sequential latency and concurrent throughput of writes to the leader of one healthy cluster. */
export interface SteadyRun {
  latencyP50Ms: number
  latencyP99Ms: number
  writesPerSecond: number
  /** utime + stime of all three members, per write. */
  cpuMicrosPerSequentialWrite: number
  cpuMicrosPerConcurrentWrite: number
}

export interface SystemResults {
  system: ControlPlaneSystem
  /** Field by field, the median of `steadyRuns`. */
  steady: SteadyRun
  steadyRuns: SteadyRun[]
  /** kill -9 of the leader until the first write issued after it succeeds, one sample per run. */
  failoverMs: Record<TimeoutProfile, number[]>
  /**
   * The same with the leader stopped by SIGSTOP (default timeouts): its sockets stay open, so only the
   * election timeout can tell the followers that it is gone.
   */
  frozenFailoverMs: number[]
  /** The command-line flags that set each profile's Raft timing. */
  timeoutFlags: Record<TimeoutProfile, readonly string[]>
}

export interface ControlPlaneResults {
  quick: boolean
  sizes: ControlPlaneSizes
  etcdVersion: string
  systems: Record<ControlPlaneSystem, SystemResults>
  seconds: number
}

const fullSizes: ControlPlaneSizes = {
  runs: 7,
  sequentialWrites: 500,
  concurrentWriters: 32,
  throughputMs: 5_000,
  warmupWrites: 2_000,
  keySpace: 1_000,
  failoverWriteIntervalMs: 5,
  beforeKillMs: 300,
}

const quickSizes: ControlPlaneSizes = { ...fullSizes, runs: 3, sequentialWrites: 100, throughputMs: 1_500 }

const systems: readonly ControlPlaneSystem[] = ['syncmesh', 'etcd']
const startCluster: Record<ControlPlaneSystem, (profile: TimeoutProfile) => Promise<ControlPlaneCluster>> = {
  syncmesh: startSyncmeshCluster,
  etcd: startEtcdCluster,
}

/** What every write stores: a namespace declaration for syncmesh, the same bytes as a value for etcd. */
export const writtenValue = JSON.stringify({ schema: { roots: { body: 'text' } } })
const failoverTimeoutMs = 30_000

/**
 * syncmesh's control plane against etcd, both as three members on 127.0.0.1 driven over HTTP/JSON by this
 * process: sequential write latency and throughput with concurrent writers on clusters with default timeouts,
 * then failover after kill -9 of the leader, with default and with LAN-tuned timeouts, and after SIGSTOP of the
 * leader with default timeouts.
 */
export async function runControlPlaneBenchmark(options: { quick: boolean }): Promise<ControlPlaneResults> {
  const startedAt = performance.now()
  const sizes = options.quick ? quickSizes : fullSizes
  const etcdVersion = ensureEtcdInstalled()
  const steadyRuns = perSystem((): SteadyRun[] => [])
  const failoverMs = perSystem((): Record<TimeoutProfile, number[]> => ({ default: [], lan: [] }))
  const frozenFailoverMs = perSystem((): number[] => [])

  // Systems take turns run by run, so that a slow spell of the machine does not fall on one of them only.
  for (let run = 0; run < sizes.runs; run++) {
    for (const system of systems) {
      await withCluster(system, 'default', async (cluster) => {
        steadyRuns[system].push(await measureSteady(cluster, sizes))
        failoverMs[system].default.push(await measureFailover(cluster, sizes, 'SIGKILL'))
      })
      await withCluster(system, 'default', async (cluster) => {
        frozenFailoverMs[system].push(await measureFailover(cluster, sizes, 'SIGSTOP'))
      })
    }
  }
  for (let run = 0; run < sizes.runs; run++) {
    for (const system of systems) {
      await withCluster(system, 'lan', async (cluster) => {
        failoverMs[system].lan.push(await measureFailover(cluster, sizes, 'SIGKILL'))
      })
    }
  }

  const timeoutFlags = { syncmesh: syncmeshTimeoutFlags, etcd: etcdTimeoutFlags }
  return {
    quick: options.quick,
    sizes,
    etcdVersion,
    systems: perSystem((system) => ({
      system,
      steady: medianOfRuns(steadyRuns[system]),
      steadyRuns: steadyRuns[system],
      failoverMs: failoverMs[system],
      frozenFailoverMs: frozenFailoverMs[system],
      timeoutFlags: timeoutFlags[system],
    })),
    seconds: (performance.now() - startedAt) / 1000,
  }
}

function perSystem<T>(make: (system: ControlPlaneSystem) => T): Record<ControlPlaneSystem, T> {
  return { syncmesh: make('syncmesh'), etcd: make('etcd') }
}

async function withCluster(
  system: ControlPlaneSystem,
  profile: TimeoutProfile,
  measure: (cluster: ControlPlaneCluster) => Promise<void>,
): Promise<void> {
  const cluster = await startCluster[system](profile)
  try {
    await measure(cluster)
  } finally {
    await cluster.stop()
  }
}

async function measureSteady(cluster: ControlPlaneCluster, sizes: ControlPlaneSizes): Promise<SteadyRun> {
  const leader = await cluster.leader()
  let nextKey = 0
  const writeToLeader = () => writeOrThrow(cluster, leader, keyOf(nextKey++, sizes))
  for (let i = 0; i < sizes.warmupWrites; i++) await writeToLeader()

  const cpuBeforeSequential = clusterCpuMicros(cluster)
  const latencies = new Float64Array(sizes.sequentialWrites)
  for (let i = 0; i < latencies.length; i++) {
    const sentAt = performance.now()
    await writeToLeader()
    latencies[i] = performance.now() - sentAt
  }
  const cpuSequential = clusterCpuMicros(cluster) - cpuBeforeSequential
  latencies.sort()

  const cpuBeforeConcurrent = clusterCpuMicros(cluster)
  const throughputStartedAt = performance.now()
  const deadline = throughputStartedAt + sizes.throughputMs
  let concurrentWrites = 0
  await Promise.all(
    Array.from({ length: sizes.concurrentWriters }, async () => {
      while (performance.now() < deadline) {
        await writeToLeader()
        concurrentWrites++
      }
    }),
  )
  const throughputSeconds = (performance.now() - throughputStartedAt) / 1000
  const cpuConcurrent = clusterCpuMicros(cluster) - cpuBeforeConcurrent

  return {
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    writesPerSecond: concurrentWrites / throughputSeconds,
    cpuMicrosPerSequentialWrite: cpuSequential / sizes.sequentialWrites,
    cpuMicrosPerConcurrentWrite: cpuConcurrent / concurrentWrites,
  }
}

/**
 * Writes go out every `failoverWriteIntervalMs` to the two followers in turn, without waiting for earlier ones;
 * the leader gets `signal` (SIGKILL, or SIGSTOP to freeze it with its sockets open), and the result is the time
 * from then until the first write issued after it succeeds. Writes issued before do not count: the old leader
 * may have committed them.
 */
async function measureFailover(
  cluster: ControlPlaneCluster,
  sizes: ControlPlaneSizes,
  signal: 'SIGKILL' | 'SIGSTOP',
): Promise<number> {
  const leader = await cluster.leader()
  const survivors = cluster.members.filter((m) => m !== leader)
  for (const member of survivors) await writeOrThrow(cluster, member, keyOf(0, sizes))

  const inFlight = new AbortController()
  let killedAt = Number.POSITIVE_INFINITY
  let issued = 0
  let ticker: NodeJS.Timeout | undefined
  let giveUp: NodeJS.Timeout | undefined
  const firstSuccessAfterKill = new Promise<number>((resolve, reject) => {
    ticker = setInterval(() => {
      const target = survivors[issued % survivors.length]!
      const issuedAt = performance.now()
      issued++
      write(cluster, target, keyOf(issued, sizes), inFlight.signal).then(
        (answer) => {
          if (answer.ok && issuedAt >= killedAt) resolve(performance.now() - killedAt)
        },
        // Refused connections and aborts: expected while there is no leader.
        () => undefined,
      )
    }, sizes.failoverWriteIntervalMs)
    const message = `${cluster.system}: no write succeeded within ${failoverTimeoutMs} ms of ${signal} to the leader`
    giveUp = setTimeout(() => reject(new Error(message)), sizes.beforeKillMs + failoverTimeoutMs)
  })
  try {
    await new Promise((resolve) => setTimeout(resolve, sizes.beforeKillMs))
    killedAt = performance.now()
    leader.process.signal(signal)
    return await firstSuccessAfterKill
  } finally {
    clearInterval(ticker)
    clearTimeout(giveUp)
    inFlight.abort()
  }
}

const keyOf = (n: number, sizes: ControlPlaneSizes) => `bench-${n % sizes.keySpace}`

interface WriteAnswer {
  ok: boolean
  status: number
  body: string
}

/** The client code both systems are driven by: Node's fetch, whose connections are kept alive. */
async function write(
  cluster: ControlPlaneCluster,
  member: ClusterMember,
  key: string,
  signal?: AbortSignal,
): Promise<WriteAnswer> {
  const request = cluster.writeRequest(key, writtenValue)
  const res = await fetch(member.url + request.path, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    ...(signal ? { signal } : {}),
  })
  return { ok: res.ok, status: res.status, body: await res.text() }
}

async function writeOrThrow(cluster: ControlPlaneCluster, member: ClusterMember, key: string): Promise<void> {
  const answer = await write(cluster, member, key)
  if (!answer.ok) throw new Error(`${cluster.system} ${member.id} refused a write: ${answer.status} ${answer.body}`)
}

function clusterCpuMicros(cluster: ControlPlaneCluster): number {
  return cluster.members.reduce((sum, member) => sum + cpuTimeMicros(member.process.pid), 0)
}
