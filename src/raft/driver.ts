import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { RaftStorageError, type RaftStorage } from '../storage/raft-storage.js'
import { RaftCore } from './core.js'
import { defaultRaftOptions, type RaftOptions } from './options.js'
import { planReady, type ReadyWrite } from './ready-plan.js'
import type { ConfChange, Entry, HardState, Message, NodeId, ProposeResult, RaftStatus, Ready } from './types.js'

/** The application state the log drives. */
export interface RaftStateMachine {
  apply(entry: Entry): unknown
  snapshot(): Uint8Array
  restore(data: Uint8Array): void
}

export interface RaftTransport {
  send(message: Message): void
}

export interface RaftDriverOptions {
  id: NodeId
  tickMs: number
  /** Fold the applied log into a snapshot once this many entries follow the last one. */
  snapshotAfterEntries: number
  raft?: Partial<Omit<RaftOptions, 'id' | 'random'>>
}

export type ProposalOutcome =
  | { ok: true; index: number; result: unknown }
  | { ok: false; reason: Exclude<ProposeResult, { ok: true }>['reason'] | 'lost' | 'closed' | 'failed'; leader: NodeId | null }

export type ReadOutcome = { ok: true } | { ok: false; reason: 'not-leader' | 'lost' | 'closed' | 'failed'; leader: NodeId | null }

/** Why the driver stopped for good: its storage failed, or handling a Ready threw for another reason (a bug). */
export interface RaftFailure {
  kind: 'storage' | 'internal'
  reason: string
}

interface Waiter<T> {
  resolve(outcome: T): void
}

/**
 * Runs a RaftCore: ticks it on a timer, and carries out each Ready in the order that keeps Raft safe —
 * persist (fsync) before sending, then apply. Readies are handled one at a time, synchronously, once per
 * turn of the event loop: inputs that arrive in the same turn (or while a Ready is being written) come
 * out together in the next one, which is what batches concurrent proposals into one fsync.
 */
export class RaftDriver {
  private readonly core: RaftCore
  private readonly timer: NodeJS.Timeout
  private applied: number
  private snapshotIndex: number
  private scheduled: NodeJS.Immediate | null = null
  /** Messages held back until the answers of this turn are out (ReadyPlan.sendAfterApply), in order. */
  private heldBack: Message[] = []
  private heldBackFlush: NodeJS.Immediate | null = null
  private closed = false
  /** The hard state last written to storage. */
  private storedHardState: HardState
  /** A newer commit index not written yet (see planReady). */
  private unwrittenCommit: HardState | null = null
  private readonly proposals = new Map<number, { term: number } & Waiter<ProposalOutcome>>()
  private readonly reads = new Map<string, Waiter<ReadOutcome> & { index?: number }>()
  private readonly statusListeners: ((status: RaftStatus) => void)[] = []
  private lastLeader: NodeId | null = null
  /** Set once, when the driver stops on a failure; then it takes no more input. */
  failure: RaftFailure | null = null

  constructor(
    private readonly storage: RaftStorage,
    private readonly transport: RaftTransport,
    private readonly stateMachine: RaftStateMachine,
    private readonly options: RaftDriverOptions,
    private readonly log: Logger,
  ) {
    const stored = storage.load()
    this.storedHardState = stored.hardState
    if (stored.snapshot) stateMachine.restore(stored.snapshot.data)
    this.applied = stored.snapshot?.index ?? 0
    this.snapshotIndex = this.applied
    this.core = new RaftCore(
      { ...defaultRaftOptions, ...options.raft, id: options.id, random: Math.random },
      stored,
    )
    const { voters } = this.core.status().config
    // A cluster of one has nobody to wait for: lead at once instead of after an election timeout.
    if (voters.length === 1 && voters[0] === options.id) this.core.campaignNow()
    this.timer = setInterval(() => {
      this.core.tick()
      this.schedule()
    }, options.tickMs)
    this.timer.unref()
    this.schedule()
  }

  receive(message: Message): void {
    if (this.closed) return
    this.core.step(message)
    this.schedule()
  }

  /** The peer link to `peer` closed (see RaftCore.peerDown). */
  peerDown(peer: NodeId): void {
    if (this.closed) return
    this.core.peerDown(peer)
    this.noticeLeader()
  }

  /** Proposes an application command; resolves once it is applied here, with the state machine's result. */
  propose(data: unknown, change?: ConfChange): Promise<ProposalOutcome> {
    if (this.closed) return Promise.resolve({ ok: false, reason: this.failure ? 'failed' : 'closed', leader: null })
    const proposed = change ? this.core.proposeConfChange(change, data) : this.core.propose(data)
    if (!proposed.ok) return Promise.resolve(proposed)
    return new Promise((resolve) => {
      this.proposals.set(proposed.index, { term: proposed.term, resolve })
      this.schedule()
    })
  }

  /** Resolves once this node, as leader, may serve a linearizable read from its state machine. */
  readIndex(): Promise<ReadOutcome> {
    if (this.closed) return Promise.resolve({ ok: false, reason: this.failure ? 'failed' : 'closed', leader: null })
    const ctx = randomUUID()
    const started = this.core.readIndex(ctx)
    if (!started.ok) return Promise.resolve(started)
    return new Promise((resolve) => {
      this.reads.set(ctx, { resolve })
      this.schedule()
    })
  }

  transferLeadership(to: NodeId): ReturnType<RaftCore['transferLeadership']> {
    const result = this.core.transferLeadership(to)
    this.schedule()
    return result
  }

  status(): RaftStatus {
    return this.core.status()
  }

  /** Called whenever the known leader changes (including to none). */
  onLeaderChange(listener: (status: RaftStatus) => void): void {
    this.statusListeners.push(listener)
  }

  close(): void {
    if (!this.closed) this.sendHeldBack()
    if (!this.closed && this.unwrittenCommit) this.write({ hardState: this.unwrittenCommit, entries: [], snapshot: null, snapshotReceived: false })
    this.stop('closed')
  }

  private stop(reason: 'closed' | 'failed'): void {
    this.closed = true
    clearInterval(this.timer)
    if (this.scheduled) clearImmediate(this.scheduled)
    if (this.heldBackFlush) clearImmediate(this.heldBackFlush)
    for (const waiter of this.proposals.values()) waiter.resolve({ ok: false, reason, leader: null })
    for (const waiter of this.reads.values()) waiter.resolve({ ok: false, reason, leader: null })
    this.proposals.clear()
    this.reads.clear()
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return
    this.scheduled = setImmediate(() => {
      this.scheduled = null
      this.drain()
    })
  }

  private drain(): void {
    while (!this.closed && this.core.hasReady()) {
      const ready = this.core.ready()
      try {
        this.handle(ready)
      } catch (err) {
        this.stopOnFailure(err)
        return
      }
    }
  }

  /**
   * Nothing of a Ready that failed was acknowledged to anyone, but the core has moved past it: stopping is the
   * only safe answer, to a failing disk as to a bug. The node goes on serving documents; its metadata is frozen,
   * which `failure` tells (readiness, metadata writes).
   */
  private stopOnFailure(err: unknown): void {
    const kind = err instanceof RaftStorageError ? 'storage' : 'internal'
    const reason = kind === 'storage' ? `raft storage failed: ${(err as Error).message}` : `raft driver failed: ${String(err)}`
    this.failure = { kind, reason }
    this.log.error({ err, kind }, 'raft stopped; the metadata of this node is frozen until it restarts')
    this.stop('failed')
  }

  private handle(ready: Ready): void {
    const plan = planReady(ready, this.storedHardState, this.unwrittenCommit)
    this.sendHeldBack()
    this.sendAll(plan.sendBeforeWrite)
    if (plan.write) this.write(plan.write)
    this.unwrittenCommit = plan.unwrittenCommit
    this.sendAll(plan.sendAfterWrite)
    if (ready.snapshotReceived && ready.snapshot) {
      this.stateMachine.restore(ready.snapshot.data)
      this.applied = ready.snapshot.index
      this.snapshotIndex = ready.snapshot.index
      this.settleProposalsThrough(ready.snapshot.index)
    }
    for (const entry of ready.committed) this.apply(entry)
    this.holdBack(plan.sendAfterApply)
    for (const { ctx, index } of ready.readStates) {
      const read = this.reads.get(ctx)
      if (read) read.index = index
    }
    for (const ctx of ready.readsDropped) this.settleRead(ctx, { ok: false, reason: 'lost', leader: null })
    for (const { from, index, totalBytes, maxSnapshotBytes } of ready.snapshotsRefused) {
      // The leader sends it again and again, and this node falls further behind: an operator must act.
      this.log.error(
        { leader: from, snapshotIndex: index, snapshotBytes: totalBytes, maxSnapshotBytes },
        'raft snapshot refused: larger than maxSnapshotBytes; this node cannot catch up with the metadata',
      )
    }
    this.releaseReads()
    this.noticeLeader()
    if (this.applied - this.snapshotIndex >= this.options.snapshotAfterEntries) {
      const snapshot = this.core.compact(this.stateMachine.snapshot())
      this.snapshotIndex = snapshot.index
      this.storage.saveSnapshot(snapshot)
    }
  }

  private write(write: ReadyWrite): void {
    this.storage.persist(write)
    if (write.hardState) this.storedHardState = write.hardState
  }

  private sendAll(messages: Message[]): void {
    for (const message of messages) this.transport.send(message)
  }

  /** Sends in the next turn of the event loop, after the proposers answered now have written their answers. */
  private holdBack(messages: Message[]): void {
    if (messages.length === 0) return
    this.heldBack.push(...messages)
    this.heldBackFlush ??= setImmediate(() => this.sendHeldBack())
  }

  private sendHeldBack(): void {
    if (this.heldBackFlush) clearImmediate(this.heldBackFlush)
    this.heldBackFlush = null
    const messages = this.heldBack
    this.heldBack = []
    this.sendAll(messages)
  }

  private apply(entry: Entry): void {
    const result = this.stateMachine.apply(entry)
    this.applied = entry.index
    const waiter = this.proposals.get(entry.index)
    if (!waiter) return
    this.proposals.delete(entry.index)
    // Another term at the proposal's index means a new leader overwrote it: it was never committed.
    waiter.resolve(
      waiter.term === entry.term ? { ok: true, index: entry.index, result } : { ok: false, reason: 'lost', leader: null },
    )
  }

  /** Proposals covered by a snapshot from the leader: whether they made it is unknown here. */
  private settleProposalsThrough(index: number): void {
    for (const [at, waiter] of this.proposals) {
      if (at > index) continue
      this.proposals.delete(at)
      waiter.resolve({ ok: false, reason: 'lost', leader: null })
    }
  }

  private releaseReads(): void {
    for (const [ctx, read] of this.reads) {
      if (read.index !== undefined && read.index <= this.applied) this.settleRead(ctx, { ok: true })
    }
  }

  private settleRead(ctx: string, outcome: ReadOutcome): void {
    const read = this.reads.get(ctx)
    if (!read) return
    this.reads.delete(ctx)
    read.resolve(outcome)
  }

  private noticeLeader(): void {
    const status = this.core.status()
    if (status.leader === this.lastLeader) return
    this.lastLeader = status.leader
    this.log.info({ leader: status.leader, term: status.term }, 'raft leader changed')
    for (const listener of this.statusListeners) listener(status)
  }
}
