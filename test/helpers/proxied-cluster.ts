import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeProcess } from './node-process.js'
import { TcpProxy } from './tcp-proxy.js'
import { createAdminClient, type ClusterOverview } from '../../client/admin-client.js'
import { waitForValue, type WaitOptions } from './wait.js'

/** Clusters take longer than one process: elections, joins, anti-entropy rounds. */
const clusterWait: WaitOptions = { timeoutMs: 30_000, pollMs: 50 }

const clusterSecret = 'proxied-cluster-secret'
const adminToken = 'proxied-cluster-admin-token'

export interface ProxiedClusterOptions {
  /** Nodes n1…n<size>; default 3. */
  size?: number
  /** Default 200, so that tests see repairs quickly. */
  antiEntropyMs?: number
  /** Passed to every node, at every start. */
  extraArgs?: string[]
  /** Ids n<size+1>… that addNode() may start later, with proxies and peer routes ready from the start. */
  spares?: number
}

export interface ClusterNode {
  readonly id: string
  readonly dataDir: string
  /** The running process, or the last one after stop(); restart() replaces it. */
  process: NodeProcess
  url: string
}

export type ClusterView = ClusterOverview

export interface ProxiedCluster {
  readonly nodes: readonly ClusterNode[]
  readonly adminToken: string
  /** For a node that joins later, outside the harness. */
  readonly clusterSecret: string
  node(id: string): ClusterNode
  /** The proxy node `from` dials to reach peer `to`. */
  proxy(from: string, to: string): TcpProxy
  /** Cuts the links between every node of `groupA` and every node of `groupB`, both directions. */
  partition(groupA: string[], groupB: string[]): void
  /** Bytes from `from` to `to` are lost on every link between them, while the other direction flows. */
  cutOneWay(from: string, to: string): void
  /** Heals every cut proxy. */
  heal(): void
  /** SIGSTOP and SIGCONT: a paused process keeps its sockets open but answers nothing. */
  pause(id: string): void
  resume(id: string): void
  /** Starts spare `id` with --join through `via`; resolves once it listens (it joins on its own after that). */
  addNode(id: string, via: string): Promise<ClusterNode>
  /** kill -9 and leave out of the harness for good: for a node removed from the cluster. */
  forget(id: string): Promise<void>
  /** kill -9; the data directory stays. */
  stop(id: string): Promise<void>
  /** Starts a stopped node again from its data directory, on its old port; resolves once it listens. */
  restart(id: string): Promise<void>
  /** This node's GET /v1/cluster, or null if it does not answer. */
  view(id: string): Promise<ClusterView | null>
  /** Resolves with the leader once every node of `ids` names the same one, itself one of `ids`. */
  waitForLeader(ids: string[]): Promise<string>
  /**
   * Resolves once every node of `ids` holds `documents` documents with up-to-date digests and reports the
   * same whole-set fingerprint: every document identical everywhere.
   */
  waitForIdenticalDocuments(ids: string[], documents: number, timing?: WaitOptions): Promise<void>
  /** Kills every node, closes the proxies, removes the data directories. */
  close(): Promise<void>
}

/**
 * Starts n1…n<size> as child processes, with a TcpProxy on each ordered pair: node `from` dials peer `to`
 * through proxy(from, to), set by a --peer-route from the start. The peer links carry Raft too, so a partition
 * cuts both the data plane and the metadata plane. Resolves once every node sees all members, the voters and
 * one agreed leader.
 *
 * Not cut by a partition: plain HTTP between nodes, which uses the member URLs — joining, and an admin write
 * that a follower forwards to the leader it knows. After partition(), waitForLeader() on a side before writing
 * metadata there, or the write may be forwarded across the cut to a leader that cannot commit.
 */
export async function startProxiedCluster(options: ProxiedClusterOptions = {}): Promise<ProxiedCluster> {
  const size = options.size ?? 3
  const allIds = Array.from({ length: size + (options.spares ?? 0) }, (_, i) => `n${i + 1}`)
  const ids = allIds.slice(0, size)
  const proxies = new Map<string, TcpProxy>()
  const pairKey = (from: string, to: string) => `${from}>${to}`
  const proxy = (from: string, to: string) => {
    const found = proxies.get(pairKey(from, to))
    if (!found) throw new Error(`no proxy from ${from} to ${to}`)
    return found
  }
  // Every proxy exists before any node starts: ports are known only once a node listens, so a proxy gets its
  // target when the node behind it comes up, and refuses connections until then.
  for (const from of allIds) {
    for (const to of allIds) if (from !== to) proxies.set(pairKey(from, to), await TcpProxy.start())
  }

  const dataDirs = new Map(allIds.map((id) => [id, mkdtempSync(join(tmpdir(), `syncmesh-${id}-`))]))
  const nodes: ClusterNode[] = []
  const argsOf = new Map<string, string[]>()
  const node = (id: string) => {
    const found = nodes.find((n) => n.id === id)
    if (!found) throw new Error(`no node ${id}`)
    return found
  }
  const retarget = (to: string, url: string) => {
    const { hostname, port } = new URL(url)
    for (const from of allIds) if (from !== to) proxy(from, to).setTarget({ host: hostname, port: Number(port) })
  }
  const view = (id: string) => clusterView(node(id).url)
  const views = (ids: string[]) => Promise.all(ids.map(view))
  const argsFor = (id: string) => {
    const routes = allIds.filter((to) => to !== id).flatMap((to) => ['--peer-route', `${to}=${proxy(id, to).url}`])
    const args = [
      ...['--id', id, '--data', dataDirs.get(id)!, '--cluster-secret', clusterSecret, '--admin-token', adminToken],
      ...['--raft-tick-ms', '20', '--anti-entropy-ms', String(options.antiEntropyMs ?? 200)],
      ...routes,
      ...(options.extraArgs ?? []),
    ]
    argsOf.set(id, args)
    return args
  }
  // Joining happens over plain HTTP; the data directory remembers the cluster after that, and a restart
  // passes --join again in case the node was killed before it joined (a node that has joined ignores it).
  const startJoined = async (id: string, join: string[]) => {
    const started = await NodeProcess.start([...argsFor(id), ...join])
    argsOf.get(id)!.push(...join)
    const added = { id, dataDir: dataDirs.get(id)!, process: started, url: started.url }
    nodes.push(added)
    retarget(id, started.url)
    return added
  }

  const cluster: ProxiedCluster = {
    nodes,
    adminToken,
    clusterSecret,
    node,
    proxy,
    view,
    async waitForLeader(among) {
      const agreed = (vs: (ClusterView | null)[]) => {
        const leader = vs[0]?.leader
        return leader != null && among.includes(leader) && vs.every((v) => v?.leader === leader)
      }
      return (await waitForValue(`one leader among ${among}`, () => views(among), agreed, clusterWait))[0]!.leader!
    },
    async waitForIdenticalDocuments(ids, documents, timing = {}) {
      const identical = (rs: (ClusterView['replication'] | null)[]) =>
        new Set(rs.map((r) => r?.fingerprint)).size === 1 && rs.every((r) => r?.documents === documents && r.staleDigests === 0)
      const replication = async () => (await views(ids)).map((v) => v?.replication ?? null)
      await waitForValue(`${documents} identical documents on ${ids}`, replication, identical, { ...clusterWait, ...timing })
    },
    partition(groupA, groupB) {
      for (const a of groupA) {
        for (const b of groupB) {
          proxy(a, b).cut()
          proxy(b, a).cut()
        }
      }
    },
    cutOneWay(from, to) {
      proxy(from, to).drop('toTarget')
      proxy(to, from).drop('fromTarget')
    },
    heal() {
      for (const p of proxies.values()) p.heal()
    },
    pause(id) {
      node(id).process.signal('SIGSTOP')
    },
    resume(id) {
      node(id).process.signal('SIGCONT')
    },
    async addNode(id, via) {
      if (!allIds.slice(size).includes(id) || nodes.some((n) => n.id === id)) throw new Error(`${id} is not a spare`)
      return startJoined(id, ['--join', via])
    },
    async forget(id) {
      await node(id).process.kill('SIGKILL')
      nodes.splice(nodes.indexOf(node(id)), 1)
    },
    async stop(id) {
      await node(id).process.kill('SIGKILL')
    },
    async restart(id) {
      const restarted = node(id)
      const { exitCode, signalCode } = restarted.process.child
      if (exitCode === null && signalCode === null) throw new Error(`${id} is still running; stop it first`)
      // The old port: the member's URL is in the Raft metadata, and admin writes are forwarded to it.
      const port = new URL(restarted.url).port
      restarted.process = await NodeProcess.start([...argsOf.get(id)!, '--port', port])
      restarted.url = restarted.process.url
      retarget(id, restarted.url)
    },
    async close() {
      await Promise.all(nodes.map((n) => n.process.kill('SIGKILL')))
      await Promise.all([...proxies.values()].map((p) => p.close()))
      for (const dir of dataDirs.values()) rmSync(dir, { recursive: true, force: true })
    },
  }

  try {
    for (const id of ids) await startJoined(id, nodes.length === 0 ? [] : ['--join', nodes[0]!.url])
    await waitForValue('the cluster to form', () => views(ids), isFormed(size), clusterWait)
  } catch (err) {
    await cluster.close()
    throw err
  }
  return cluster
}

/** GET /v1/cluster of the node at `url` with the harness's admin token (any node started with it), or null. */
export async function clusterView(url: string): Promise<ClusterView | null> {
  const timed: typeof fetch = (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(2_000) })
  return createAdminClient({ url, token: adminToken, fetch: timed })
    .cluster()
    .catch(() => null)
}

/** Every member known, the voters promoted, and one leader everybody names. */
function isFormed(size: number) {
  const voterTarget = Math.min(size, 3)
  const complete = (v: ClusterView | null) =>
    v !== null && v.members.length === size && v.members.filter((m) => m.role === 'voter').length === voterTarget
  return (views: (ClusterView | null)[]) =>
    views.every(complete) && views[0]!.leader !== null && views.every((v) => v!.leader === views[0]!.leader)
}
