import { execFileSync, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { ClusterProcess, freePorts, makeTempDir, removeTempDir } from './cluster-processes.js'
import { pollUntil, type ClusterMember, type ControlPlaneCluster, type TimeoutProfile } from './control-plane-cluster.js'

/** etcd's own defaults are heartbeat 100 ms and election timeout 1000 ms (an election after 1–2 s). */
export const etcdTimeoutFlags: Record<TimeoutProfile, readonly string[]> = {
  default: [],
  lan: ['--heartbeat-interval', '15', '--election-timeout', '150'],
}

const memberNames = ['e1', 'e2', 'e3'] as const
const formationTimeoutMs = 30_000

interface StatusAnswer {
  header: { member_id: string }
  leader: string
}

/** The version of the etcd on PATH; installs Debian's `etcd-server` first when there is none. */
export function ensureEtcdInstalled(): string {
  const installed = etcdVersion()
  if (installed !== undefined) return installed
  console.log('etcd is not on PATH: installing the Debian package etcd-server')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
  execFileSync('apt-get', ['install', '-y', 'etcd-server'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
  const version = etcdVersion()
  if (version === undefined) throw new Error('etcd is still not on PATH after installing etcd-server')
  return version
}

function etcdVersion(): string | undefined {
  const answer = spawnSync('etcd', ['--version'], { encoding: 'utf8' })
  if (answer.error) return undefined
  const version = /^etcd Version: (\S+)$/m.exec(answer.stdout)?.[1]
  if (version === undefined) throw new Error(`unexpected output of etcd --version:\n${answer.stdout}${answer.stderr}`)
  return version
}

/**
 * Three etcd members on 127.0.0.1 with fresh data directories and etcd's default durability (fsync on).
 * Writes go through etcd's v3 HTTP/JSON gateway, which every member serves on its client URL.
 */
export async function startEtcdCluster(profile: TimeoutProfile): Promise<ControlPlaneCluster> {
  const ports = await freePorts(memberNames.length * 2)
  const peerUrl = (i: number) => `http://127.0.0.1:${ports[2 * i]!}`
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[2 * i + 1]!}`
  const initialCluster = memberNames.map((name, i) => `${name}=${peerUrl(i)}`).join(',')
  const clusterToken = `control-plane-benchmark-${randomUUID()}`
  const dataDirs: string[] = []

  const members: ClusterMember[] = memberNames.map((name, i) => {
    const dataDir = makeTempDir(`etcd-control-plane-${name}-`)
    dataDirs.push(dataDir)
    const args = [
      '--name', name, '--data-dir', dataDir,
      '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
      '--listen-client-urls', clientUrl(i), '--advertise-client-urls', clientUrl(i),
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', clusterToken,
      // 3.4's default logger (capnslog) is deprecated and says so at start; zap is 3.5's default.
      '--logger', 'zap', ...etcdTimeoutFlags[profile],
    ]
    return { id: name, url: clientUrl(i), process: ClusterProcess.spawn(`etcd ${name}`, 'etcd', args) }
  })

  const stop = async () => {
    await Promise.all(members.map((m) => m.process.kill('SIGKILL')))
    for (const dir of dataDirs) removeTempDir(dir)
  }

  const cluster: ControlPlaneCluster = {
    system: 'etcd',
    members,
    leader: () => pollUntil('the etcd members to agree on a leader', () => agreedLeader(members), formationTimeoutMs),
    writeRequest: (key, value) => ({
      method: 'POST',
      path: '/v3/kv/put',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: base64(key), value: base64(value) }),
    }),
    stop,
  }
  try {
    await cluster.leader()
    return cluster
  } catch (err) {
    const exited = members.find((m) => !m.process.alive)
    await stop()
    throw exited ? exited.process.failure('exited while the cluster formed') : err
  }
}

const base64 = (text: string) => Buffer.from(text).toString('base64')

/** The live leader all live members name; a member's Raft id is in the header of its own status. */
async function agreedLeader(members: readonly ClusterMember[]): Promise<ClusterMember | undefined> {
  const live = members.filter((m) => m.process.alive)
  const statuses = await Promise.all(
    live.map(async (member) => {
      const res = await fetch(`${member.url}/v3/maintenance/status`, { method: 'POST', body: '{}' })
      return (await res.json()) as StatusAnswer
    }),
  )
  const leaderId = statuses[0]?.leader
  if (!statuses.every((s) => s.leader === leaderId)) return undefined
  const index = statuses.findIndex((s) => s.header.member_id === leaderId)
  return index === -1 ? undefined : live[index]
}
