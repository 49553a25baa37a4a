import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { ClusterProcess, makeTempDir, removeTempDir } from './cluster-processes.js'
import { pollUntil, type ClusterMember, type ControlPlaneCluster, type TimeoutProfile } from './control-plane-cluster.js'

/** An election starts after 10–20 silent ticks; the heartbeat is one tick. */
export const syncmeshTimeoutFlags: Record<TimeoutProfile, readonly string[]> = {
  default: ['--raft-tick-ms', '100'],
  lan: ['--raft-tick-ms', '15'],
}

const mainJs = fileURLToPath(new URL('../../server/main.js', import.meta.url))
const adminToken = randomBytes(16).toString('hex')
const startTimeoutMs = 20_000
const formationTimeoutMs = 30_000

interface ClusterView {
  leader: string | null
  members: { id: string; role: string }[]
}

/** Three `syncmesh start` processes: n1 starts the cluster, n2 and n3 join it and are promoted to voters. */
export async function startSyncmeshCluster(profile: TimeoutProfile): Promise<ControlPlaneCluster> {
  const clusterSecret = randomBytes(16).toString('hex')
  const processes: ClusterProcess[] = []
  const dataDirs: string[] = []

  const startMember = async (id: string, joinUrl?: string): Promise<ClusterMember> => {
    const dataDir = makeTempDir(`syncmesh-control-plane-${id}-`)
    dataDirs.push(dataDir)
    const args = [
      mainJs, 'start', '--id', id, '--host', '127.0.0.1', '--port', '0', '--data', dataDir,
      '--cluster-secret', clusterSecret, '--admin-token', adminToken, ...syncmeshTimeoutFlags[profile],
      ...(joinUrl ? ['--join', joinUrl] : []),
    ]
    const started = ClusterProcess.spawn(`syncmesh ${id}`, process.execPath, args)
    processes.push(started)
    const url = await started.waitForLine(listeningUrl, startTimeoutMs)
    return { id, url, process: started }
  }

  const stop = async () => {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')))
    for (const dir of dataDirs) removeTempDir(dir)
  }

  try {
    const first = await startMember('n1')
    const members = [first, ...(await Promise.all([startMember('n2', first.url), startMember('n3', first.url)]))]
    const cluster: ControlPlaneCluster = {
      system: 'syncmesh',
      members,
      leader: () =>
        pollUntil('three syncmesh voters to agree on a leader', () => agreedLeader(members), formationTimeoutMs),
      writeRequest: (key, value) => ({
        method: 'PUT',
        path: `/v1/namespaces/${encodeURIComponent(key)}`,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: value,
      }),
      stop,
    }
    await cluster.leader()
    return cluster
  } catch (err) {
    const exited = processes.find((p) => !p.alive)
    await stop()
    throw exited ? exited.failure('exited while the cluster formed') : err
  }
}

function listeningUrl(line: string): string | undefined {
  if (!line.includes('"msg":"listening"')) return undefined
  return (JSON.parse(line) as { url: string }).url
}

/** The live leader all live members name, once each of them also sees three voters. */
async function agreedLeader(members: readonly ClusterMember[]): Promise<ClusterMember | undefined> {
  const live = members.filter((m) => m.process.alive)
  const views = await Promise.all(
    live.map(async (member) => {
      const res = await fetch(`${member.url}/v1/cluster`, { headers: { authorization: `Bearer ${adminToken}` } })
      return (await res.json()) as ClusterView
    }),
  )
  const leaderId = views[0]?.leader
  const agreed = views.every((v) => v.leader === leaderId && v.members.filter((m) => m.role === 'voter').length === 3)
  return agreed ? live.find((m) => m.id === leaderId) : undefined
}
