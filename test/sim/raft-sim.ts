import { RaftCore } from '../../src/raft/core.js'
import { defaultRaftOptions } from '../../src/raft/options.js'
import { planReady, type ReadyPlan } from '../../src/raft/ready-plan.js'
import { Role, type ConfChange, type Entry, type HardState, type Message, type Ready, type Snapshot } from '../../src/raft/types.js'
import { Rng } from './rng.js'
import { saveOwnSnapshot, writeSnapshotAndEntries, type SimDisk } from './sim-disk.js'
import { SimNetwork, type NetworkFaults } from './sim-network.js'

/**
 * Deterministic simulation of a Raft cluster: real RaftCore instances, with a simulated (fake) disk,
 * network and clock, all driven by one seeded RNG. Checks Raft's safety properties after every event
 * and liveness after the faults stop.
 */

export interface SimOptions {
  seed: number
  voters: number
  /** Nodes that start outside the cluster and may be added by membership changes. */
  spares: number
  faultyTicks: number
  calmTicks: number
  faults: NetworkFaults
  crashRate: number
  partitionRate: number
  /**
   * Chance per tick that some node is told a link closed while its peer lives (RaftCore.peerDown). Crashes
   * and cut links also tell the nodes on the other end, as a closed socket does, most of the time.
   */
  linkDownRate: number
  healRate: number
  proposeRate: number
  readRate: number
  /**
   * How many keys clients use. Fewer keys mean more contention, and longer per-key histories for the
   * linearizability check, whose search grows exponentially with the operations that overlap.
   */
  keys: number
  confChangeRate: number
  transferRate: number
  /** Probability that a persisted Ready is synced (and its messages sent) in a given processing round. */
  syncRate: number
  compactAfterEntries: number
  /** Entries per append message; small values split batches, which some bugs need in order to show. */
  maxEntriesPerAppend: number
  /**
   * With check-quorum, a cut-off leader steps down before a new one can be elected, which with the
   * simulation's perfect clocks hides stale reads; turning it off keeps deposed leaders around.
   */
  checkQuorum: boolean
  /** Prints every event, for replaying a failed seed. */
  trace?: (line: string) => void
}

export const defaultSimOptions: Omit<SimOptions, 'seed'> = {
  voters: 3,
  spares: 2,
  faultyTicks: 300,
  calmTicks: 200,
  faults: { dropRate: 0.05, duplicateRate: 0.02, maxDelayTicks: 2 },
  crashRate: 0.01,
  partitionRate: 0.02,
  linkDownRate: 0.02,
  healRate: 0.03,
  proposeRate: 0.5,
  readRate: 0.3,
  keys: 6,
  confChangeRate: 0.02,
  transferRate: 0.01,
  syncRate: 0.7,
  compactAfterEntries: 30,
  maxEntriesPerAppend: 2,
  checkQuorum: true,
}

export type KvInput = { op: 'put'; key: string; value: string } | { op: 'get'; key: string }

/** One client operation as a linearizability checker wants it. */
export interface HistoryOp {
  clientId: number
  input: KvInput
  call: number
  return?: number
  output?: string | null
  outcome: 'ok' | 'fail' | 'unknown'
}

interface Command {
  requestId: string
  key: string
  value: string
}

interface SimNode {
  id: string
  disk: SimDisk
  core: RaftCore | null
  kv: Map<string, string>
  applied: number
  /** A Ready written but not yet synced: a crash loses it, and its messages (unless sent first) were never sent. */
  unsynced: { ready: Ready; plan: ReadyPlan } | null
  /** A commit index the driver has not written yet. */
  unwrittenCommit: HardState | null
  reads: Map<string, { index: number; op: HistoryOp }>
  waitingReads: Map<string, HistoryOp>
}

export class SafetyViolation extends Error {
  override name = 'SafetyViolation'
}

export interface SimResult {
  ops: HistoryOp[]
  ticks: number
  elections: number
  committed: number
  crashes: number
  partitions: number
  confChanges: number
}


export class RaftSimulation {
  private readonly rng: Rng
  private readonly network: SimNetwork<Message>
  private readonly nodes = new Map<string, SimNode>()
  private now = 0
  /** A logical clock for history events, finer than ticks. */
  private clock = 0
  /** Per term: its leader, and how many entries had been applied anywhere when it was first seen. */
  private readonly leaders = new Map<number, { id: string; committedBefore: number }>()
  private readonly appliedEntries = new Map<number, string>()
  private readonly pendingWrites = new Map<string, { op: HistoryOp; index: number; term: number }>()
  private readonly ops: HistoryOp[] = []
  private readonly acknowledged: number[] = []
  private nextRequest = 0
  private readonly removedIds = new Set<string>()
  private stats = { elections: 0, crashes: 0, partitions: 0, confChanges: 0 }

  constructor(private readonly options: SimOptions) {
    this.rng = new Rng(options.seed)
    this.network = new SimNetwork(this.rng, options.faults)
    const voters = Array.from({ length: options.voters }, (_, i) => `n${i + 1}`)
    const spares = Array.from({ length: options.spares }, (_, i) => `n${options.voters + i + 1}`)
    // A cluster bootstraps from a snapshot at index 1 that names its voters; joiners start empty.
    const bootstrap: Snapshot = { index: 1, term: 1, config: { voters, replicas: [] }, data: encodeKv(new Map()) }
    for (const id of voters) this.addNode(id, { hardState: { term: 1, vote: null, commit: 1 }, snapshot: bootstrap, entries: [] })
    for (const id of spares) this.addNode(id, { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] })
  }

  run(): SimResult {
    const total = this.options.faultyTicks + this.options.calmTicks
    for (; this.now < total; this.now++) {
      if (this.now < this.options.faultyTicks) this.injectFaults()
      else if (this.now === this.options.faultyTicks) this.calmDown()
      for (const node of this.live()) {
        node.core!.tick()
        this.process(node)
      }
      for (const { from, to, message } of this.network.deliverable(this.now)) {
        const node = this.nodes.get(to)
        if (!node?.core) continue
        this.trace(`${from}->${to} ${JSON.stringify(message, (k, v) => (k === 'entries' ? (v as Entry[]).map((e) => `${e.index}@${e.term}`) : k === 'data' ? undefined : v))}`)
        node.core.step({ ...message, from })
        this.process(node)
      }
      // Clients stop halfway through the calm, so that every member can catch up before the checks.
      if (this.now < this.options.faultyTicks + this.options.calmTicks / 2) this.clientTraffic()
      this.checkSafety()
    }
    this.checkLiveness()
    // A write whose entry no node holds any more can never commit.
    for (const { op, index, term } of this.pendingWrites.values()) {
      const held = this.live().some((n) => n.core!.termAt(index) === term)
      this.finish(op, held ? 'unknown' : 'fail')
    }
    return {
      ops: this.ops,
      ticks: total,
      committed: this.appliedEntries.size,
      ...this.stats,
    }
  }

  // ---- the nodes' drivers ----

  private addNode(id: string, disk: SimDisk): void {
    const node: SimNode = { id, disk, core: null, kv: new Map(), applied: 0, unsynced: null, unwrittenCommit: null, reads: new Map(), waitingReads: new Map() }
    this.nodes.set(id, node)
    this.start(node)
  }

  private start(node: SimNode): void {
    const stored = structuredClone(node.disk)
    const { maxEntriesPerAppend, checkQuorum } = this.options
    // Snapshots of a few entries go in several chunks, so that faults hit transfers mid-way.
    const raftOptions = { ...defaultRaftOptions, maxEntriesPerAppend, checkQuorum, snapshotChunkBytes: 16, maxSnapshotChunksInflight: 2 }
    node.core = new RaftCore({ ...raftOptions, id: node.id, random: () => this.rng.next() }, stored)
    node.kv = stored.snapshot ? decodeKv(stored.snapshot.data) : new Map()
    node.applied = stored.snapshot?.index ?? 0
    node.unsynced = null
    node.unwrittenCommit = null
  }

  private trace(what: string): void {
    this.options.trace?.(`t=${this.now} ${what}`)
  }

  private crash(node: SimNode): void {
    this.trace(`crash ${node.id} (unsynced ${node.unsynced ? 'lost' : 'none'})`)
    node.core = null
    node.unsynced = null
    node.unwrittenCommit = null
    for (const { op } of node.reads.values()) this.finish(op, 'fail')
    for (const op of node.waitingReads.values()) this.finish(op, 'fail')
    node.reads.clear()
    node.waitingReads.clear()
    this.stats.crashes++
    for (const other of this.live()) this.maybeNoticeLinkDown(other, node.id, 0.8)
  }

  private maybeNoticeLinkDown(node: SimNode, peer: string, chance: number): void {
    if (!node.core || !this.rng.chance(chance)) return
    this.trace(`${node.id} sees its link to ${peer} close`)
    node.core.peerDown(peer)
    this.process(node)
  }

  private process(node: SimNode): void {
    for (;;) {
      if (node.unsynced) {
        if (this.now < this.options.faultyTicks && !this.rng.chance(this.options.syncRate)) return
        const { ready, plan } = node.unsynced
        node.unsynced = null
        this.sync(node, ready, plan)
      }
      if (!node.core?.hasReady()) return
      const ready = node.core.ready()
      const plan = planReady(ready, node.disk.hardState, node.unwrittenCommit)
      this.sendAll(node, plan.sendBeforeWrite)
      node.unsynced = { ready, plan }
    }
  }

  private sendAll(node: SimNode, messages: Message[]): void {
    for (const m of messages) this.network.send(this.now, node.id, m.to, structuredClone(m))
  }

  /** The driver's order, from the same plan: persist, then send (unless sent already), then apply. */
  private sync(node: SimNode, ready: Ready, plan: ReadyPlan): void {
    const disk = node.disk
    this.trace(`sync ${node.id} ${JSON.stringify({ hs: ready.hardState, entries: ready.entries.map((e) => `${e.index}@${e.term}`), snap: ready.snapshot?.index, applied: ready.committed.map((e) => e.index) })}`)
    if (plan.write) {
      writeSnapshotAndEntries(disk, plan.write)
      if (plan.write.hardState) disk.hardState = { ...plan.write.hardState }
    }
    // A crash before the next write loses a commit index left unwritten, as it does in the driver.
    node.unwrittenCommit = plan.unwrittenCommit
    this.sendAll(node, plan.sendAfterWrite)
    if (ready.snapshotReceived && ready.snapshot) {
      node.kv = decodeKv(ready.snapshot.data)
      node.applied = ready.snapshot.index
    }
    for (const entry of ready.committed) this.apply(node, entry)
    this.sendAll(node, plan.sendAfterApply)
    for (const rs of ready.readStates) {
      const op = node.waitingReads.get(rs.ctx)
      if (!op) continue
      node.waitingReads.delete(rs.ctx)
      node.reads.set(rs.ctx, { index: rs.index, op })
    }
    for (const ctx of ready.readsDropped) {
      const op = node.waitingReads.get(ctx)
      node.waitingReads.delete(ctx)
      if (op) this.finish(op, 'fail')
    }
    this.serveReads(node)
    if (node.applied - (disk.snapshot?.index ?? 0) >= this.options.compactAfterEntries) {
      const snapshot = node.core!.compact(encodeKv(node.kv))
      saveOwnSnapshot(disk, snapshot)
    }
  }

  private apply(node: SimNode, entry: Entry): void {
    if (entry.index !== node.applied + 1) throw new SafetyViolation(`${node.id} applied ${entry.index} after ${node.applied}`)
    const signature = JSON.stringify([entry.term, entry.data, entry.change ?? null])
    const seen = this.appliedEntries.get(entry.index)
    if (seen !== undefined && seen !== signature) {
      throw new SafetyViolation(`state machine safety: ${node.id} applied ${signature} at ${entry.index}, another node ${seen}`)
    }
    this.appliedEntries.set(entry.index, signature)
    node.applied = entry.index
    const command = entry.data as Command | null
    if (command && !entry.change) node.kv.set(command.key, command.value)
    this.settleWrites(entry)
  }

  /**
   * A write's fate is known as soon as any node applies its index: committed if the entry there is the
   * proposal, lost for good otherwise — a committed index never changes. Settling lost writes as failed, not
   * unknown, keeps the linearizability search small. The entry is recognized by its request id, not by its
   * term: a lone voter that crashed before its vote was durable may lead the same term again after the
   * restart, with other entries at the indexes of proposals it lost (nobody saw them, so this is safe).
   */
  private settleWrites(entry: Entry): void {
    for (const [requestId, pending] of this.pendingWrites) {
      if (pending.index !== entry.index) continue
      this.pendingWrites.delete(requestId)
      const committed = !entry.change && (entry.data as Command | null)?.requestId === requestId
      this.finish(pending.op, committed ? 'ok' : 'fail')
      if (committed) this.acknowledged.push(entry.index)
    }
  }

  private serveReads(node: SimNode): void {
    for (const [ctx, { index, op }] of node.reads) {
      if (node.applied < index) continue
      node.reads.delete(ctx)
      const key = (op.input as { key: string }).key
      this.finish(op, 'ok', node.kv.get(key) ?? null)
    }
  }

  // ---- clients ----

  private randomKey(): string {
    return `k${this.rng.int(this.options.keys)}`
  }

  private clientTraffic(): void {
    if (this.rng.chance(this.options.proposeRate)) this.write()
    if (this.rng.chance(this.options.readRate)) this.read()
  }

  private write(): void {
    const node = this.pickLive()
    if (!node) return
    const command: Command = { requestId: `r${this.nextRequest++}`, key: this.randomKey(), value: `v${this.nextRequest}` }
    const op = this.invoke({ op: 'put', key: command.key, value: command.value })
    const result = node.core!.propose(command)
    if (!result.ok) {
      this.finish(op, 'fail')
      return
    }
    this.pendingWrites.set(command.requestId, { op, index: result.index, term: result.term })
    this.process(node)
  }

  private read(): void {
    const node = this.pickLive()
    if (!node) return
    const op = this.invoke({ op: 'get', key: this.randomKey() })
    const ctx = `q${this.nextRequest++}`
    const result = node.core!.readIndex(ctx)
    if (!result.ok) {
      this.finish(op, 'fail')
      return
    }
    node.waitingReads.set(ctx, op)
    this.process(node)
  }

  private invoke(input: KvInput): HistoryOp {
    const op: HistoryOp = { clientId: this.ops.length, input, call: this.clock++, outcome: 'unknown' }
    this.ops.push(op)
    return op
  }

  private finish(op: HistoryOp, outcome: 'ok' | 'fail' | 'unknown', output?: string | null): void {
    op.outcome = outcome
    if (outcome === 'ok') {
      op.return = this.clock++
      if (output !== undefined) op.output = output
    }
  }

  // ---- faults ----

  private injectFaults(): void {
    const o = this.options
    const all = [...this.nodes.values()]
    if (this.rng.chance(o.crashRate)) {
      const node = this.rng.pick(all)
      if (node.core) this.crash(node)
      else this.start(node)
    }
    if (this.rng.chance(o.partitionRate)) this.partition(all.map((n) => n.id))
    if (this.rng.chance(o.linkDownRate)) {
      const [node, peer] = [this.rng.pick(all), this.rng.pick(all)]
      if (node !== peer) this.maybeNoticeLinkDown(node, peer.id, 1)
    }
    if (this.network.partitioned && this.rng.chance(o.healRate)) {
      this.trace('heal')
      this.network.heal()
    }
    if (this.rng.chance(o.confChangeRate)) this.changeMembership()
    if (this.rng.chance(o.transferRate)) {
      const leader = this.live().find((n) => n.core!.status().role === Role.leader)
      const target = leader && this.rng.pick(leader.core!.status().config.voters)
      if (leader && target) leader.core!.transferLeadership(target)
    }
  }

  private partition(ids: string[]): void {
    this.stats.partitions++
    this.rng.shuffle(ids)
    const cut = 1 + this.rng.int(ids.length - 1)
    const [a, b] = [ids.slice(0, cut), ids.slice(cut)]
    const kind = this.rng.int(3)
    this.trace(`partition kind=${kind} ${a} | ${b}`)
    // A bridge: the first node of `a` keeps both sides, which cannot reach each other.
    const [from, to] = kind === 2 ? [a.slice(1), b] : [a, b]
    if (kind === 1) for (const x of from) for (const y of to) this.network.cutLink(x, y)
    else this.network.partition(from, to)
    for (const x of from) {
      for (const y of to) {
        this.maybeNoticeLinkDown(this.nodes.get(x)!, y, 0.5)
        this.maybeNoticeLinkDown(this.nodes.get(y)!, x, 0.5)
      }
    }
  }

  private changeMembership(): void {
    const leader = this.live().find((n) => n.core!.status().role === Role.leader)
    if (!leader) return
    const { voters, replicas } = leader.core!.status().config
    // A removed node stops for good; like the metadata, the simulation never admits its id again.
    const outsiders = [...this.nodes.keys()].filter(
      (id) => !voters.includes(id) && !replicas.includes(id) && !this.removedIds.has(id),
    )
    const candidates: ConfChange[] = [
      ...outsiders.map((id) => ({ op: 'add-replica' as const, id })),
      ...replicas.map((id) => ({ op: 'promote' as const, id })),
      ...(voters.length > 3 ? voters.map((id) => ({ op: 'demote' as const, id })) : []),
      ...(voters.length > 3 ? voters.map((id) => ({ op: 'remove' as const, id })) : []),
      ...replicas.map((id) => ({ op: 'remove' as const, id })),
    ]
    if (candidates.length === 0) return
    const change = this.rng.pick(candidates)
    const result = leader.core!.proposeConfChange(change, { requestId: `c${this.nextRequest++}`, change })
    if (result.ok) this.stats.confChanges++
    if (result.ok && change.op === 'remove') this.removedIds.add(change.id)
    this.process(leader)
  }

  private calmDown(): void {
    this.network.heal()
    this.network.faults = { dropRate: 0, duplicateRate: 0, maxDelayTicks: 1 }
    for (const node of this.nodes.values()) if (!node.core) this.start(node)
  }

  // ---- checks ----

  private checkSafety(): void {
    for (const node of this.live()) {
      const status = node.core!.status()
      if (status.role !== Role.leader) continue
      let known = this.leaders.get(status.term)
      if (known === undefined) {
        known = { id: node.id, committedBefore: Math.max(0, ...this.appliedEntries.keys()) }
        this.leaders.set(status.term, known)
        this.stats.elections++
      } else if (known.id !== node.id) {
        throw new SafetyViolation(`election safety: ${known.id} and ${node.id} both lead term ${status.term}`)
      }
      // Leader completeness: what was committed before a leader was elected is in its log.
      for (const [index, signature] of this.appliedEntries) {
        if (index > known.committedBefore) continue
        const term = node.core!.termAt(index)
        const committedTerm = JSON.parse(signature)[0] as number
        if (term === undefined ? index > status.lastIndex : term !== committedTerm) {
          throw new SafetyViolation(
            `leader completeness: leader ${node.id} of term ${status.term} has term ${term} at committed index ${index} (term ${committedTerm})`,
          )
        }
      }
    }
    this.checkLogMatching()
  }

  /** Log matching on what is on disk: equal (index, term) means equal prefixes. */
  private checkLogMatching(): void {
    const logs = [...this.nodes.values()].map((n) => ({ id: n.id, byIndex: new Map(n.disk.entries.map((e) => [e.index, e.term])) }))
    for (let i = 0; i < logs.length; i++) {
      for (let j = i + 1; j < logs.length; j++) {
        const [a, b] = [logs[i]!, logs[j]!]
        let agreedAbove = false
        const indexes = [...a.byIndex.keys()].filter((k) => b.byIndex.has(k)).sort((x, y) => y - x)
        for (const index of indexes) {
          const same = a.byIndex.get(index) === b.byIndex.get(index)
          if (agreedAbove && !same) {
            throw new SafetyViolation(`log matching: ${a.id} and ${b.id} agree above index ${index} but not at it`)
          }
          agreedAbove ||= same
        }
      }
    }
  }

  private checkLiveness(): void {
    const members = this.live().filter((n) => !n.core!.status().removed)
    const leaders = members.filter((n) => n.core!.status().role === Role.leader)
    if (leaders.length !== 1) {
      const statuses = this.live().map((n) => JSON.stringify(n.core!.status()))
      throw new SafetyViolation(`liveness: ${leaders.length} leaders after the faults stopped:\n${statuses.join('\n')}`)
    }
    const config = leaders[0]!.core!.status().config
    const inCluster = members.filter((n) => config.voters.includes(n.id) || config.replicas.includes(n.id))
    const applied = new Set(inCluster.map((n) => n.applied))
    if (applied.size !== 1) {
      const statuses = inCluster.map((n) => JSON.stringify({ ...n.core!.status(), appliedByDriver: n.applied }))
      throw new SafetyViolation(`liveness: members applied different indexes:\n${statuses.join('\n')}`)
    }
    const highestAck = Math.max(0, ...this.acknowledged)
    if ([...applied][0]! < highestAck) throw new SafetyViolation(`liveness: acknowledged index ${highestAck} not applied`)
    const states = new Set(inCluster.map((n) => JSON.stringify([...n.kv].sort())))
    if (states.size !== 1) throw new SafetyViolation('liveness: members hold different state machines')
  }

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.core !== null)
  }

  /** Mostly the node that believes it leads, as a client that follows redirects would reach. */
  private pickLive(): SimNode | undefined {
    const live = this.live()
    const leaders = live.filter((n) => n.core!.status().role === Role.leader)
    if (leaders.length > 0 && this.rng.chance(0.8)) return this.rng.pick(leaders)
    return live.length === 0 ? undefined : this.rng.pick(live)
  }
}

function encodeKv(kv: Map<string, string>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([...kv].sort()))
}

function decodeKv(bytes: Uint8Array): Map<string, string> {
  return new Map(JSON.parse(new TextDecoder().decode(bytes)) as [string, string][])
}
