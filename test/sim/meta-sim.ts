import { planProposal, type CommandInput } from '../../src/control/proposal.js'
import { applyCommand } from '../../src/meta/apply.js'
import { decodeMetaState, encodeMetaState } from '../../src/meta/codec.js'
import { parseCommand, type CommandResult } from '../../src/meta/commands.js'
import { MetaStateMachine } from '../../src/meta/state-machine.js'
import { emptyMetaState, type MetaState } from '../../src/meta/state.js'
import { RaftCore } from '../../src/raft/core.js'
import { defaultRaftOptions } from '../../src/raft/options.js'
import { Role, type Entry, type Message, type Snapshot } from '../../src/raft/types.js'
import { Rng } from './rng.js'
import { saveOwnSnapshot, writeSnapshotAndEntries, type SimDisk } from './sim-disk.js'
import { SimNetwork } from './sim-network.js'

/**
 * Deterministic simulation of the control plane's metadata: real RaftCore instances applying to real
 * MetaStateMachines, writes planned by the real `planProposal`, over a simulated (fake) disk, network and
 * clock driven by one seeded RNG — the one place fakes stand in for the driver's LMDB and peer links. What
 * ControlPlane.submit does around the plan (propose on the leader, wait for the entry, retry later) is
 * repeated here in a few lines.
 *
 * Checked after every step: each node's metadata equals the fold of the committed log up to its applied
 * index; Raft's configuration equals the metadata's members and roles; every committed membership entry is
 * applied by the metadata (not refused, not skipped as a retry); a request once answered ok is answered ok
 * again when retried.
 */

export const simNodeIds = ['n1', 'n2', 'n3', 'n4', 'n5'] as const
/** n1–n3 start as the voters; n4 and n5 start empty, waiting to be added. */
const initialVoters = simNodeIds.slice(0, 3)
const urlOf = (id: string) => `http://${id}`

/** A request key: one shared by several writes, a fresh one per write, or one the edge would refuse. */
export type KeyChoice = { shared: number } | 'fresh' | 'too-long'

export type MetaSimAction =
  | { kind: 'write'; via: number; input: CommandInput; key: KeyChoice }
  /** Sends an earlier write again, with its key, through any node. */
  | { kind: 'retry'; via: number; request: number }
  | { kind: 'crash'; node: number }
  | { kind: 'restart'; node: number }
  | { kind: 'isolate'; node: number }
  | { kind: 'heal' }
  | { kind: 'transfer'; to: number }
  | { kind: 'ticks'; count: number }

export class InvariantViolation extends Error {
  override name = 'InvariantViolation'
}

export interface MetaSimStats {
  /** Committed entries that changed Raft's configuration. */
  confChanges: number
  /** Retries answered ok from the request memory instead of being proposed again. */
  answeredOkFromMemory: number
  /** Writes refused before they were proposed (remembered refusals included). */
  refusedBeforeProposing: number
  leaders: number
}

interface SimNode {
  id: string
  disk: SimDisk
  core: RaftCore | null
  meta: MetaStateMachine
  applied: number
  /** Proposals made here: index → the request and the term it was proposed in. */
  pending: Map<number, { request: number; term: number }>
}

interface Request {
  input: CommandInput
  key: string
  answeredOk: boolean
}

const compactAfterEntries = 6

export class MetaSimulation {
  private readonly rng: Rng
  private readonly network: SimNetwork<Message>
  private readonly nodes: SimNode[] = []
  private readonly requests: Request[] = []
  private now = 0
  /** The committed log as first applied anywhere, and the fold of it: the metadata after each index. */
  private readonly committed = new Map<number, string>()
  private readonly folded = new Map<number, Uint8Array>()
  private readonly reference: MetaState
  private referenceIndex: number
  private readonly leaderTerms = new Set<number>()
  private readonly stats: MetaSimStats = { confChanges: 0, answeredOkFromMemory: 0, refusedBeforeProposing: 0, leaders: 0 }

  constructor(seed: number) {
    this.rng = new Rng(seed)
    this.network = new SimNetwork(this.rng, { dropRate: 0.05, duplicateRate: 0.02, maxDelayTicks: 2 })
    // As node.ts bootstraps a cluster, with the first voters written into the snapshot.
    this.reference = emptyMetaState()
    for (const id of initialVoters) this.reference.members.set(id, { id, url: urlOf(id), role: 'voter' })
    const data = encodeMetaState(this.reference)
    this.referenceIndex = 1
    this.folded.set(1, data)
    const bootstrap: Snapshot = { index: 1, term: 1, config: { voters: [...initialVoters], replicas: [] }, data }
    for (const id of simNodeIds) {
      const joined = (initialVoters as readonly string[]).includes(id)
      const disk: SimDisk = joined
        ? { hardState: { term: 1, vote: null, commit: 1 }, snapshot: bootstrap, entries: [] }
        : { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] }
      const node: SimNode = { id, disk, core: null, meta: new MetaStateMachine(), applied: 0, pending: new Map() }
      this.nodes.push(node)
      this.start(node)
    }
  }

  run(actions: readonly MetaSimAction[]): MetaSimStats {
    actions.forEach((action, i) => {
      this.act(action, i)
      this.tick(action.kind === 'ticks' ? action.count : 2)
    })
    // Calm: every node up, no cuts, no losses, until the members agree.
    this.network.heal()
    this.network.faults = { dropRate: 0, duplicateRate: 0, maxDelayTicks: 1 }
    for (const node of this.nodes) if (!node.core) this.start(node)
    this.tick(150)
    this.checkConverged()
    return this.stats
  }

  // ---- the nodes' drivers ----

  private start(node: SimNode): void {
    const stored = structuredClone(node.disk)
    node.core = new RaftCore({ ...defaultRaftOptions, id: node.id, random: () => this.rng.next() }, stored)
    node.meta = new MetaStateMachine()
    if (stored.snapshot) node.meta.restore(stored.snapshot.data)
    node.applied = stored.snapshot?.index ?? 0
    node.pending.clear()
    this.checkNode(node)
  }

  /** Persist, send, apply, in the driver's order; the disk is synchronous here. */
  private process(node: SimNode): void {
    const appliedBefore = node.applied
    while (node.core?.hasReady()) {
      const ready = node.core.ready()
      const disk = node.disk
      writeSnapshotAndEntries(disk, ready)
      if (ready.hardState) disk.hardState = { ...ready.hardState }
      for (const m of ready.messages) this.network.send(this.now, node.id, m.to, structuredClone(m))
      if (ready.snapshotReceived && ready.snapshot) {
        node.meta.restore(ready.snapshot.data)
        node.applied = ready.snapshot.index
        node.pending.clear()
      }
      for (const entry of ready.committed) this.apply(node, entry)
      if (node.applied - (disk.snapshot?.index ?? 0) >= compactAfterEntries) {
        const snapshot = node.core.compact(node.meta.snapshot())
        saveOwnSnapshot(disk, snapshot)
      }
    }
    if (node.core && node.applied !== appliedBefore) this.checkNode(node)
  }

  private apply(node: SimNode, entry: Entry): void {
    if (entry.index !== node.applied + 1) throw new InvariantViolation(`${node.id} applied ${entry.index} after ${node.applied}`)
    this.foldThrough(entry)
    const result = node.meta.apply(entry)
    node.applied = entry.index
    const proposal = node.pending.get(entry.index)
    node.pending.delete(entry.index)
    if (proposal && proposal.term === entry.term && result) this.answer(proposal.request, result)
  }

  /** Extends the reference fold with a newly committed entry, or checks it is the entry committed there. */
  private foldThrough(entry: Entry): void {
    const signature = JSON.stringify([entry.term, entry.data, entry.change ?? null])
    const seen = this.committed.get(entry.index)
    if (seen !== undefined) {
      if (seen !== signature) throw new InvariantViolation(`two entries committed at ${entry.index}: ${seen} and ${signature}`)
      return
    }
    if (entry.index !== this.referenceIndex + 1) throw new InvariantViolation(`index ${entry.index} committed before ${this.referenceIndex + 1}`)
    this.committed.set(entry.index, signature)
    this.referenceIndex = entry.index
    if (entry.data !== null) {
      const parsed = parseCommand(entry.data)
      const replay = parsed.ok && this.reference.recentResults.has(parsed.command.requestId)
      const result: CommandResult = parsed.ok ? applyCommand(this.reference, parsed.command, entry) : parsed
      if (entry.change) {
        this.stats.confChanges++
        // Raft has applied this change; so must the metadata.
        if (replay || !result.ok) {
          throw new InvariantViolation(
            `membership entry ${entry.index} ${JSON.stringify(entry.change)} changed Raft's configuration, but the metadata ${replay ? 'skipped it as a retry' : `refused it: ${JSON.stringify(result)}`}`,
          )
        }
      }
    }
    this.folded.set(entry.index, encodeMetaState(this.reference))
  }

  private tick(count: number): void {
    for (let i = 0; i < count; i++, this.now++) {
      for (const node of this.live()) {
        node.core!.tick()
        this.process(node)
      }
      for (const { from, to, message } of this.network.deliverable(this.now)) {
        const node = this.nodes.find((n) => n.id === to)!
        if (!node.core) continue
        node.core.step({ ...message, from })
        this.process(node)
      }
      for (const node of this.live()) {
        const { role, term } = node.core!.status()
        if (role === Role.leader && !this.leaderTerms.has(term)) {
          this.leaderTerms.add(term)
          this.stats.leaders++
        }
      }
    }
  }

  // ---- clients ----

  private act(action: MetaSimAction, step: number): void {
    const node = (i: number) => this.nodes[i % this.nodes.length]!
    switch (action.kind) {
      case 'write': {
        const key = action.key === 'fresh' ? `fresh-${step}` : action.key === 'too-long' ? 'k'.repeat(300) : `shared-${action.key.shared}`
        this.requests.push({ input: action.input, key, answeredOk: false })
        this.submit(node(action.via), this.requests.length - 1)
        return
      }
      case 'retry':
        if (this.requests.length > 0) this.submit(node(action.via), action.request % this.requests.length)
        return
      case 'crash': {
        const target = node(action.node)
        if (!target.core) return
        // What a Ready persisted survives; everything in memory, proposals waiting included, is gone.
        target.core = null
        target.pending.clear()
        return
      }
      case 'restart': {
        const target = node(action.node)
        if (!target.core) this.start(target)
        return
      }
      case 'isolate':
        this.network.partition([node(action.node).id], this.nodes.map((n) => n.id).filter((id) => id !== node(action.node).id))
        return
      case 'heal':
        this.network.heal()
        return
      case 'transfer': {
        const leader = this.live().find((n) => n.core!.status().role === Role.leader)
        leader?.core!.transferLeadership(node(action.to).id)
        if (leader) this.process(leader)
        return
      }
      case 'ticks':
        return
    }
  }

  /**
   * ControlPlane.submit's steps: only a leader proposes, after planning from its applied metadata. A follower
   * passes the write to the leader it knows, as the HTTP layer forwards it.
   */
  private submit(via: SimNode, request: number): void {
    const leaderId = via.core?.status().leader
    const node = via.core?.status().role === Role.leader ? via : this.nodes.find((n) => n.id === leaderId)
    const core = node?.core
    if (!node || !core || core.status().role !== Role.leader) return
    const { input, key } = this.requests[request]!
    const plan = planProposal(node.meta.state, input, key)
    if (!plan.propose) {
      // Only a remembered result is ok without a proposal.
      if (plan.result.ok) this.stats.answeredOkFromMemory++
      else this.stats.refusedBeforeProposing++
      this.answer(request, plan.result)
      return
    }
    const proposed = plan.change ? core.proposeConfChange(plan.change, plan.command) : core.propose(plan.command)
    if (proposed.ok) node.pending.set(proposed.index, { request, term: proposed.term })
    else if (proposed.reason === 'invalid') this.answer(request, { ok: false, code: 'conflict', message: 'refused by Raft' })
    this.process(node)
  }

  private answer(request: number, result: CommandResult): void {
    const r = this.requests[request]!
    if (r.answeredOk && !result.ok) {
      throw new InvariantViolation(`request ${r.input.type} "${r.key}" was answered ok, and on a retry ${JSON.stringify(result)}`)
    }
    r.answeredOk ||= result.ok
  }

  // ---- checks ----

  private checkNode(node: SimNode): void {
    // Snapshots are canonical: equal states encode to equal bytes.
    const state = encodeMetaState(node.meta.state)
    const fold = this.folded.get(node.applied)
    if (node.applied > 0 && (!fold || Buffer.compare(state, fold) !== 0)) {
      throw new InvariantViolation(
        `${node.id} at index ${node.applied} holds\n${describeState(state)}\nbut the committed log folds to\n${fold ? describeState(fold) : 'nothing'}`,
      )
    }
    const status = node.core!.status()
    // Raft's configuration includes the committed entries the metadata is about to apply.
    if (node.applied !== status.commit) return
    const members = [...node.meta.state.members.values()]
    const ids = (role: string) => members.filter((m) => m.role === role).map((m) => m.id).sort()
    const config = { voters: [...status.config.voters].sort(), replicas: [...status.config.replicas].sort() }
    if (JSON.stringify(config) !== JSON.stringify({ voters: ids('voter'), replicas: ids('replica') })) {
      throw new InvariantViolation(
        `${node.id} at index ${node.applied}: Raft's configuration ${JSON.stringify(config)} but the members ${JSON.stringify(members)}`,
      )
    }
  }

  private checkConverged(): void {
    // Members by the committed log: a removed node that restarts from an old log never hears of it again.
    const members = this.live().filter((n) => this.reference.members.has(n.id))
    const applied = new Set(members.map((n) => n.applied))
    if (applied.size !== 1) {
      throw new InvariantViolation(`members applied different indexes after the calm: ${members.map((n) => `${n.id}@${n.applied}`)}`)
    }
  }

  private live(): SimNode[] {
    return this.nodes.filter((n) => n.core !== null)
  }
}

function describeState(bytes: Uint8Array): string {
  const decoded = decodeMetaState(bytes)
  if (!decoded.ok) return decoded.message
  return JSON.stringify(decoded.state, (_key, value: unknown) =>
    value instanceof Map ? Object.fromEntries(value) : value instanceof Set ? [...value] : value,
  )
}
