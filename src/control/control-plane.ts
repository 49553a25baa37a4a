import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { CommandResult } from '../meta/commands.js'
import { nextMembershipChange } from '../meta/membership.js'
import { compareStrings } from '../meta/queries.js'
import type { MetaStateMachine } from '../meta/state-machine.js'
import type { Namespace, Webhook } from '../meta/state.js'
import type { RaftDriver } from '../raft/driver.js'
import type { NodeId } from '../raft/types.js'
import { planProposal, type CommandInput } from './proposal.js'

export interface ClusterMember {
  id: string
  url: string
  role: 'voter' | 'replica'
  /** Its node key; absent for a member from before node keys whose key is not recorded yet. */
  publicKey?: string
}

export interface ClusterView {
  id: string
  leader: string | null
  term: number
  commitIndex: number
  members: ClusterMember[]
}

/** Why this node could not carry out a metadata operation. */
export type SubmitFailure =
  | { ok: false; reason: 'not_leader'; leaderUrl: string | null }
  | { ok: false; reason: 'no_quorum' | 'removed' | 'metadata_unavailable'; message: string }

/** How a write to the metadata ended, from the point of view of the node that took it. */
export type SubmitOutcome = { ok: true; result: CommandResult } | SubmitFailure

export interface ControlPlaneOptions {
  id: NodeId
  /** How long a write may wait for a quorum before it is answered 503. */
  timeoutMs: number
  /** How often the leader looks for a membership change due (promotions to reach the voter target). */
  planIntervalMs: number
}

/**
 * The metadata service of a node: writes go through Raft on the leader (a follower says who leads, and the
 * HTTP layer forwards), reads come from the local state machine or, when asked for, through ReadIndex.
 * The leader also moves the voter set towards the target, one change at a time.
 */
export class ControlPlane {
  private readonly planTimer: NodeJS.Timeout
  private planning = false

  constructor(
    private readonly driver: RaftDriver,
    private readonly meta: MetaStateMachine,
    private readonly options: ControlPlaneOptions,
    private readonly log: Logger,
  ) {
    this.planTimer = setInterval(() => void this.planMembership(), options.planIntervalMs)
    this.planTimer.unref()
  }

  view(): ClusterView {
    const status = this.driver.status()
    return {
      id: this.options.id,
      leader: status.leader,
      term: status.term,
      commitIndex: status.commit,
      members: [...this.meta.state.members.values()]
        .map(({ id, url, role, publicKey }) => ({ id, url, role, ...(publicKey !== undefined && { publicKey }) }))
        .sort((a, b) => compareStrings(a.id, b.id)),
    }
  }

  /** The view after a ReadIndex round: no write committed before the call is missing from it. */
  async consistentView(): Promise<{ ok: true; view: ClusterView } | SubmitFailure> {
    if (this.driver.failure) return this.unavailable()
    if (this.driver.status().removed) return this.removed()
    const read = await withTimeout(this.driver.readIndex(), this.options.timeoutMs)
    if (read === 'timeout') return this.noQuorum()
    if (!read.ok) return read.reason === 'not-leader' ? this.notLeader() : read.reason === 'failed' ? this.unavailable() : this.noQuorum()
    return { ok: true, view: this.view() }
  }

  targetVoters(): number {
    return this.meta.state.voterTarget
  }

  namespaces(): Namespace[] {
    return [...this.meta.state.namespaces.values()].sort((a, b) => compareStrings(a.name, b.name))
  }

  webhooks(): Webhook[] {
    return [...this.meta.state.webhooks.values()].sort((a, b) => compareStrings(a.id, b.id))
  }

  webhook(id: string): Webhook | undefined {
    return this.meta.state.webhooks.get(id)
  }

  leaderUrl(): string | null {
    const leader = this.driver.status().leader
    return leader === null ? null : (this.meta.state.members.get(leader)?.url ?? null)
  }

  isLeader(): boolean {
    return this.driver.status().role === 'leader'
  }

  /**
   * Proposes a command and waits until it is applied here (or the timeout passes). `requestKey` names the
   * caller's request: a retry with the same key (here or on another node) is applied once.
   */
  async submit(input: CommandInput, requestKey: string = randomUUID()): Promise<SubmitOutcome> {
    if (this.driver.failure) return this.unavailable()
    if (this.driver.status().removed) return this.removed()
    const deadline = Date.now() + this.options.timeoutMs
    for (;;) {
      if (!this.isLeader()) return this.notLeader()
      // Planned again before every attempt: a membership change applied meanwhile may have answered or
      // ruled out this one.
      const plan = planProposal(this.meta.state, input, requestKey)
      if (!plan.propose) return { ok: true, result: plan.result }
      const outcome = await withTimeout(this.driver.propose(plan.command, plan.change), deadline - Date.now())
      if (outcome === 'timeout') return this.noQuorum()
      if (outcome.ok) return { ok: true, result: outcome.result as CommandResult }
      if (outcome.reason === 'not-leader') return this.notLeader()
      if (outcome.reason === 'invalid') {
        return { ok: true, result: { ok: false, code: 'conflict', message: 'the cluster configuration does not allow this change' } }
      }
      if (outcome.reason === 'removed') return this.removed()
      if (outcome.reason === 'closed') return this.noQuorum()
      if (outcome.reason === 'failed') return this.unavailable()
      // 'lost', 'transferring', 'conf-change-pending': retry with the same request key until the deadline.
      if (Date.now() >= deadline) return this.noQuorum()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /** Hands leadership to `to`, or to the most caught-up other voter; resolves when someone else leads. */
  async transferLeadership(to?: string): Promise<SubmitOutcome> {
    const status = this.driver.status()
    if (this.driver.failure) return this.unavailable()
    if (status.removed) return this.removed()
    if (status.role !== 'leader') return this.notLeader()
    const target = to ?? this.bestSuccessor()
    if (!target) return { ok: true, result: { ok: false, code: 'conflict', message: 'no other voter to take over' } }
    const started = this.driver.transferLeadership(target)
    if (!started.ok) {
      const message = started.reason === 'invalid' ? `"${target}" is not a voter` : 'not the leader'
      return { ok: true, result: { ok: false, code: started.reason === 'invalid' ? 'not_found' : 'conflict', message } }
    }
    const deadline = Date.now() + this.options.timeoutMs
    while (Date.now() < deadline) {
      if (this.driver.status().leader === target) return { ok: true, result: { ok: true } }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return this.noQuorum()
  }

  close(): void {
    clearInterval(this.planTimer)
  }

  private bestSuccessor(): string | undefined {
    const status = this.driver.status()
    return status.config.voters
      .filter((id) => id !== this.options.id)
      .sort((a, b) => (status.followers[b]?.match ?? 0) - (status.followers[a]?.match ?? 0))[0]
  }

  private async planMembership(): Promise<void> {
    if (this.planning || !this.isLeader()) return
    this.planning = true
    try {
      const status = this.driver.status()
      const caughtUp = (id: string) => (status.followers[id]?.match ?? 0) >= status.commit
      const change = nextMembershipChange(this.meta.state, this.options.id, caughtUp)
      if (!change) return
      const outcome = await this.submit({ type: change.type, id: change.id })
      this.log.info({ change, outcome }, 'membership change for the voter target')
    } catch (err) {
      // A timer's promise: nobody else would hear of it. The next interval plans again.
      this.log.error({ err }, 'planning a membership change failed')
    } finally {
      this.planning = false
    }
  }

  private notLeader(): SubmitFailure {
    return { ok: false, reason: 'not_leader', leaderUrl: this.leaderUrl() }
  }

  private removed(): SubmitFailure {
    return { ok: false, reason: 'removed', message: 'this node was removed from the cluster' }
  }

  private unavailable(): SubmitFailure {
    return { ok: false, reason: 'metadata_unavailable', message: this.driver.failure!.reason }
  }

  private noQuorum(): SubmitFailure {
    return { ok: false, reason: 'no_quorum', message: `no quorum answered within ${this.options.timeoutMs} ms` }
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  if (ms <= 0) return 'timeout'
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
