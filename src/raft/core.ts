import { RaftLog, invariant } from './log.js'
import { Membership } from './membership.js'
import type { RaftOptions } from './options.js'
import { Progress } from './progress.js'
import { quorumMatchIndex, quorumSize, tallyVotes } from './quorum.js'
import { ReadOnlyQueue } from './read-only.js'
import { SnapshotReceiver, SnapshotSender } from './snapshot-transfer.js'
import {
  Role,
  type ClusterConfig,
  type ConfChange,
  type HardState,
  type Message,
  type NodeId,
  type ProposeResult,
  type RaftStatus,
  type ReadState,
  type Ready,
  type Snapshot,
  type SnapshotRefusal,
  type StoredState,
} from './types.js'

type Outgoing = DistributiveOmit<Message, 'from'>
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

const emptyConfig: ClusterConfig = { voters: [], replicas: [] }

/**
 * A Raft node as a deterministic state machine, after etcd's raft: inputs are `tick`, `step`,
 * `propose…`, `transferLeadership` and `readIndex`; every effect comes out of `ready()` for the driver
 * to carry out (see `Ready` for the order that makes it safe). No clock, I/O or randomness of its own.
 */
export class RaftCore {
  private readonly options: RaftOptions
  readonly id: NodeId
  private term: number
  private vote: NodeId | null
  private role: Role = Role.follower
  private leader: NodeId | null = null
  private readonly log: RaftLog
  private members: Membership
  private removed = false
  /** The latest snapshot: sent to followers whose next entry was compacted away. */
  private snapshot: Snapshot
  private readonly snapshotReceiver: SnapshotReceiver

  private electionElapsed = 0
  private heartbeatElapsed = 0
  private randomizedElectionTimeout = 0
  private votes = new Map<NodeId, boolean>()
  private progress = new Map<NodeId, Progress>()
  private pendingConfIndex = 0
  private leadTransferee: NodeId | null = null
  private readOnly = new ReadOnlyQueue()
  /** Reads that arrived before this leader committed an entry of its own term. */
  private readsAwaitingCommit: string[] = []
  private needsBroadcast = false
  /** Membership changes up to this index are in effect. */
  private confAppliedIndex = 0

  private messages: Message[] = []
  private readStates: ReadState[] = []
  private readsDropped: string[] = []
  private snapshotsRefused: SnapshotRefusal[] = []
  private snapshotToPersist: Snapshot | null = null
  private snapshotReceived = false
  private lastHardState: HardState

  constructor(options: RaftOptions, stored: StoredState) {
    this.options = options
    this.id = options.id
    this.snapshot = stored.snapshot ?? { index: 0, term: 0, config: emptyConfig, data: new Uint8Array() }
    this.snapshotReceiver = new SnapshotReceiver(options.maxSnapshotBytes)
    this.log = new RaftLog(this.snapshot.index, this.snapshot.term, [...stored.entries], stored.hardState.commit)
    this.term = stored.hardState.term
    this.vote = stored.hardState.vote
    this.members = new Membership(this.snapshot.config)
    // The configuration is that of the last committed entry, now, not once the driver has re-applied the
    // log: a restarted node that campaigned with its snapshot's older configuration could win alone.
    for (const entry of this.log.slice(this.log.firstIndex(), this.log.committed - this.snapshot.index) ?? []) {
      if (entry.change) this.applyConfChange(entry.change)
    }
    this.confAppliedIndex = this.log.committed
    this.lastHardState = this.hardState()
    this.resetElectionTimer()
  }

  // ---- inputs ----

  tick(): void {
    if (this.role === Role.leader) this.tickLeader()
    else this.tickElection()
  }

  step(m: Message): void {
    // A removed node still answers: a member that missed the commit of the removal counts it as a voter still, and
    // needs its vote and its acknowledgements to commit the removal itself. Only such members talk to it (a leader
    // that committed the removal sends it a last word and forgets it), and it never campaigns (not promotable).
    if (m.to !== this.id) return
    if (m.term > this.term) {
      if ((m.type === 'vote' || m.type === 'pre-vote') && this.inLease() && !(m.type === 'vote' && m.transfer)) {
        // §4.2.3: a node that hears from a live leader ignores disruptive candidates.
        return
      }
      if (m.type === 'pre-vote' || (m.type === 'pre-vote-resp' && !m.reject)) {
        // A pre-vote is for a term the sender has not entered; it changes no term.
      } else {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot-chunk'
        this.becomeFollower(m.term, fromLeader ? m.from : null)
      }
    } else if (m.term < this.term) {
      if (m.type === 'append' || m.type === 'heartbeat') {
        // Tell a deposed leader about the newer term, or it would never learn it (pre-vote keeps terms low).
        this.send({ type: 'append-resp', to: m.from, term: this.term, index: 0, reject: false, hint: 0 })
      } else if (m.type === 'pre-vote') {
        this.send({ type: 'pre-vote-resp', to: m.from, term: this.term, reject: true })
      }
      return
    }

    if (m.type === 'vote' || m.type === 'pre-vote') {
      this.handleVoteRequest(m)
      return
    }
    switch (this.role) {
      case Role.leader:
        this.stepLeader(m)
        break
      case Role.candidate:
      case Role.preCandidate:
        this.stepCandidate(m)
        break
      case Role.follower:
        this.stepFollower(m)
        break
    }
  }

  /**
   * The driver lost its connection to `peer`. When that is the leader — a process that dies has its sockets
   * closed by the kernel — this follower need not wait out the base election timeout: it forgets the leader,
   * and with it the lease, so that it grants the other voters' pre-votes, and campaigns once the random part
   * of its timeout has passed (that part keeps two followers that noticed together from splitting the vote).
   * A link that dropped while the leader lives costs no election: the voters that still hear from the leader
   * refuse the pre-vote (that refusal is check-quorum's lease: without it, the notice is ignored), and the
   * leader's next message here restores it.
   */
  peerDown(peer: NodeId): void {
    if (!this.options.checkQuorum || this.role !== Role.follower || peer !== this.leader) return
    this.leader = null
    this.electionElapsed = Math.max(this.electionElapsed, this.options.electionTimeoutTicks)
  }

  /** Starts an election now rather than at the next timeout (used when this node is the only voter). */
  campaignNow(): void {
    if (this.role !== Role.leader && this.promotable()) this.campaign(this.options.preVote ? 'pre-vote' : 'vote', false)
  }

  propose(data: unknown): ProposeResult {
    const refused = this.refuseProposal()
    if (refused) return refused
    return this.appendOwn(data)
  }

  /** Proposes a membership change; at most one may be pending (proposed and not yet applied). */
  proposeConfChange(change: ConfChange, data: unknown): ProposeResult {
    const refused = this.refuseProposal()
    if (refused) return refused
    const committedOwnTerm = this.log.term(this.log.committed) === this.term
    if (this.pendingConfIndex > this.log.applied || !committedOwnTerm) return this.refusal('conf-change-pending')
    if (!this.members.isValid(change)) return this.refusal('invalid')
    const result = this.appendOwn(data, change)
    this.pendingConfIndex = result.index
    return result
  }

  /** §3.10: hands leadership to `to` once its log is current, by telling it to campaign at once. */
  transferLeadership(to: NodeId): { ok: true } | { ok: false; reason: 'not-leader' | 'invalid'; leader: NodeId | null } {
    if (this.role !== Role.leader) return { ok: false, reason: 'not-leader', leader: this.leader }
    if (to === this.id) return { ok: true }
    if (!this.members.voters.has(to)) return { ok: false, reason: 'invalid', leader: this.leader }
    if (this.leadTransferee === to) return { ok: true }
    this.leadTransferee = to
    this.electionElapsed = 0
    if (this.progress.get(to)!.match === this.log.lastIndex()) this.sendTimeoutNow(to)
    else this.sendAppend(to)
    return { ok: true }
  }

  /** Starts a linearizable read (§6.4); its ReadState comes out of a later Ready. */
  readIndex(ctx: string): { ok: true } | { ok: false; reason: 'not-leader'; leader: NodeId | null } {
    if (this.role !== Role.leader) return { ok: false, reason: 'not-leader', leader: this.leader }
    if (this.log.term(this.log.committed) !== this.term) this.readsAwaitingCommit.push(ctx)
    else this.startRead(ctx)
    return { ok: true }
  }

  /** Folds the log up to the applied index into a snapshot holding `data`, the state machine's state there. */
  compact(data: Uint8Array): Snapshot {
    const index = this.log.applied
    this.snapshot = { index, term: this.log.term(index)!, config: this.members.config(), data }
    this.log.compact(index)
    return this.snapshot
  }

  // ---- outputs ----

  hasReady(): boolean {
    const hs = this.hardState()
    return (
      this.messages.length > 0 ||
      this.readStates.length > 0 ||
      this.readsDropped.length > 0 ||
      this.snapshotsRefused.length > 0 ||
      this.snapshotToPersist !== null ||
      this.log.committed > this.log.applied ||
      this.log.hasUnstable() ||
      (this.role === Role.leader && this.needsBroadcast) ||
      !sameHardState(hs, this.lastHardState)
    )
  }

  /** Everything the driver must do now; consumed, so the next call returns only what is new. */
  ready(): Ready {
    const committed = this.log.takeCommitted()
    for (const entry of committed) {
      if (entry.change && entry.index > this.confAppliedIndex) this.applyConfChange(entry.change)
      this.confAppliedIndex = Math.max(this.confAppliedIndex, entry.index)
    }
    if (this.role === Role.leader && this.needsBroadcast) {
      this.needsBroadcast = false
      for (const id of this.progress.keys()) this.sendAppend(id)
    }
    const hs = this.hardState()
    const durableThrough = this.log.firstUnstableIndex() - 1
    const ready: Ready = {
      hardState: sameHardState(hs, this.lastHardState) ? null : hs,
      entries: this.log.takeUnstable(),
      snapshot: this.snapshotToPersist,
      snapshotReceived: this.snapshotReceived,
      messages: this.messages,
      messagesFirst:
        this.role === Role.leader &&
        hs.term === this.lastHardState.term &&
        hs.vote === this.lastHardState.vote &&
        this.snapshotToPersist === null &&
        this.log.committed <= durableThrough,
      committed,
      readStates: this.readStates,
      readsDropped: this.readsDropped,
      snapshotsRefused: this.snapshotsRefused,
    }
    this.lastHardState = hs
    this.snapshotToPersist = null
    this.snapshotReceived = false
    this.messages = []
    this.readStates = []
    this.readsDropped = []
    this.snapshotsRefused = []
    return ready
  }

  /** The term of log entry `index`; undefined when compacted away or not (yet) in the log. */
  termAt(index: number): number | undefined {
    return this.log.term(index)
  }

  status(): RaftStatus {
    const followers: RaftStatus['followers'] = {}
    for (const [id, pr] of this.progress) followers[id] = { match: pr.match, next: pr.next, state: pr.state }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      config: this.members.config(),
      removed: this.removed,
      followers,
    }
  }

  // ---- roles ----

  private becomeFollower(term: number, leader: NodeId | null): void {
    this.reset(term)
    this.role = Role.follower
    this.leader = leader
  }

  private becomePreCandidate(): void {
    // A pre-candidate keeps its term and vote: it only asks whether it could win.
    this.dropLeaderState()
    this.role = Role.preCandidate
    this.leader = null
    this.votes = new Map()
    this.resetElectionTimer()
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1)
    this.role = Role.candidate
    this.vote = this.id
  }

  private becomeLeader(): void {
    invariant(this.role === Role.candidate, 'only a candidate can become leader')
    this.reset(this.term)
    this.role = Role.leader
    this.leader = this.id
    for (const id of this.members.all()) {
      if (id !== this.id) this.progress.set(id, this.newProgress())
    }
    // §5.4.2 / §6.4: commit an entry of our own term before trusting the commit index. Membership
    // changes also wait for it (the fix for single-server changes, Ongaro 2015) and for any change
    // already in the log to be applied.
    this.pendingConfIndex = this.log.lastIndex()
    this.appendOwn(null)
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term
      this.vote = null
    }
    this.dropLeaderState()
    this.snapshotReceiver.abandon()
    this.leader = null
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.votes = new Map()
    this.resetElectionTimer()
  }

  private dropLeaderState(): void {
    this.progress = new Map()
    this.leadTransferee = null
    this.needsBroadcast = false
    this.readsDropped.push(...this.readOnly.drain(), ...this.readsAwaitingCommit)
    this.readsAwaitingCommit = []
  }

  private resetElectionTimer(): void {
    const base = this.options.electionTimeoutTicks
    this.randomizedElectionTimeout = base + Math.floor(this.options.random() * base)
  }

  // ---- ticks ----

  private tickElection(): void {
    this.electionElapsed++
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0
      this.campaign(this.options.preVote ? 'pre-vote' : 'vote', false)
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.electionElapsed >= this.options.electionTimeoutTicks) {
      this.electionElapsed = 0
      if (this.options.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null)
        return
      }
      this.leadTransferee = null
      for (const [id, pr] of this.progress) {
        pr.recentActive = false
        if (pr.snapshotSender?.checkStalled()) this.sendSnapshotChunks(id, pr.snapshotSender)
      }
    }
    if (this.heartbeatElapsed >= this.options.heartbeatTicks) {
      this.heartbeatElapsed = 0
      this.broadcastHeartbeat(null)
    }
  }

  private inLease(): boolean {
    return this.options.checkQuorum && this.leader !== null && this.electionElapsed < this.options.electionTimeoutTicks
  }

  private quorumActive(): boolean {
    let active = this.members.voters.has(this.id) ? 1 : 0
    for (const [id, pr] of this.progress) if (this.members.voters.has(id) && pr.recentActive) active++
    return active >= quorumSize(this.members.voters.size)
  }

  // ---- elections ----

  private campaign(kind: 'pre-vote' | 'vote', transfer: boolean): void {
    if (kind === 'pre-vote') this.becomePreCandidate()
    else this.becomeCandidate()
    const term = kind === 'pre-vote' ? this.term + 1 : this.term
    this.votes.set(this.id, true)
    if (this.onVoteTallied()) return
    for (const id of this.members.voters) {
      if (id === this.id) continue
      const lastIndex = this.log.lastIndex()
      const lastTerm = this.log.lastTerm()
      if (kind === 'vote') this.send({ type: 'vote', to: id, term, lastIndex, lastTerm, transfer })
      else this.send({ type: 'pre-vote', to: id, term, lastIndex, lastTerm })
    }
  }

  /** Acts on the votes so far; returns true when the campaign ended. */
  private onVoteTallied(): boolean {
    const tally = tallyVotes(this.members.voters, this.votes)
    if (tally === 'won') {
      if (this.role === Role.preCandidate) this.campaign('vote', false)
      else this.becomeLeader()
      return true
    }
    if (tally === 'lost') {
      this.becomeFollower(this.term, null)
      return true
    }
    return false
  }

  private handleVoteRequest(m: Extract<Message, { type: 'vote' | 'pre-vote' }>): void {
    const responseType = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp'
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.type === 'pre-vote' && m.term > this.term)
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.send({ type: responseType, to: m.from, term: m.term, reject: false })
      if (m.type === 'vote') {
        this.electionElapsed = 0
        this.vote = m.from
      }
    } else {
      this.send({ type: responseType, to: m.from, term: this.term, reject: true })
    }
  }

  // ---- per role ----

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from)
    if (!pr) return
    switch (m.type) {
      case 'append-resp':
        this.handleAppendResponse(m, pr)
        break
      case 'heartbeat-resp':
        pr.heardFrom()
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from)
        if (m.readCtx !== null) this.ackRead(m.readCtx, m.from)
        break
      case 'snapshot-ack':
        pr.recentActive = true
        if (pr.snapshotSender?.snapshot.index !== m.index) return
        pr.snapshotSender.onAck(m.offset, m.reject)
        this.sendSnapshotChunks(m.from, pr.snapshotSender)
        break
      default:
        break
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot-chunk':
        this.becomeFollower(m.term, m.from)
        this.stepFollower(m)
        break
      case 'pre-vote-resp':
      case 'vote-resp':
        if ((m.type === 'pre-vote-resp') !== (this.role === Role.preCandidate)) return
        this.votes.set(m.from, !m.reject)
        this.onVoteTallied()
        break
      default:
        break
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
        this.heardFromLeader(m.from)
        this.handleAppend(m)
        break
      case 'heartbeat':
        this.heardFromLeader(m.from)
        this.log.commitTo(Math.min(m.commit, this.log.lastIndex()))
        this.send({ type: 'heartbeat-resp', to: m.from, term: this.term, readCtx: m.readCtx })
        break
      case 'snapshot-chunk':
        this.heardFromLeader(m.from)
        this.handleSnapshotChunk(m)
        break
      case 'timeout-now':
        if (this.promotable()) this.campaign('vote', true)
        break
      default:
        break
    }
  }

  private heardFromLeader(leader: NodeId): void {
    this.electionElapsed = 0
    this.leader = leader
  }

  // ---- replication ----

  private handleAppend(m: Extract<Message, { type: 'append' }>): void {
    if (m.prevIndex < this.log.committed) {
      this.send({ type: 'append-resp', to: m.from, term: this.term, index: this.log.committed, reject: false, hint: 0 })
      return
    }
    const lastNew = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries)
    if (lastNew !== null) {
      this.send({ type: 'append-resp', to: m.from, term: this.term, index: lastNew, reject: false, hint: 0 })
    } else {
      const hint = this.log.findConflictByTerm(m.prevIndex, m.prevTerm)
      this.send({ type: 'append-resp', to: m.from, term: this.term, index: m.prevIndex, reject: true, hint })
    }
  }

  private handleSnapshotChunk(m: Extract<Message, { type: 'snapshot-chunk' }>): void {
    const { index, term } = m.snapshot
    if (index <= this.log.committed || this.log.matchTerm(index, term)) {
      // We hold the snapshot's last entry already: the entries themselves will be applied in order. Only the
      // committed prefix is known to match the leader's log; entries after it may yet conflict.
      this.snapshotReceiver.abandon()
      this.log.commitTo(index)
      this.send({ type: 'append-resp', to: m.from, term: this.term, index: this.log.committed, reject: false, hint: 0 })
      return
    }
    const outcome = this.snapshotReceiver.receive(m)
    if (outcome.kind === 'ack') {
      this.send({ type: 'snapshot-ack', to: m.from, term: this.term, index, offset: outcome.offset, reject: outcome.reject })
    } else if (outcome.kind === 'complete') {
      this.installSnapshot(outcome.snapshot)
      this.send({ type: 'append-resp', to: m.from, term: this.term, index, reject: false, hint: 0 })
    } else if (outcome.kind === 'too-large') {
      this.snapshotsRefused.push(outcome.refusal)
    }
  }

  private installSnapshot(s: Snapshot): void {
    this.log.restore(s.index, s.term)
    this.snapshot = s
    this.members = new Membership(s.config)
    this.confAppliedIndex = s.index
    this.snapshotToPersist = s
    this.snapshotReceived = true
  }

  private handleAppendResponse(m: Extract<Message, { type: 'append-resp' }>, pr: Progress): void {
    pr.recentActive = true
    if (m.reject) {
      if (pr.maybeDecrTo(m.index, m.hint)) {
        if (pr.state === 'replicate') pr.becomeProbe()
        this.sendAppend(m.from)
      }
      return
    }
    const wasPaused = pr.isPaused()
    if (!pr.maybeUpdate(m.index)) return
    if (pr.state === 'probe') pr.becomeReplicate()
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeProbe()
    if (this.maybeCommit()) this.needsBroadcast = true
    else if (wasPaused) this.sendAppend(m.from)
    while (this.sendAppend(m.from, false)) {
      // Fill the follower's window with what is left of the log.
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from)
  }

  /** Sends `to` what it lacks, or a snapshot if that was compacted; false if nothing was sent. */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to)!
    if (pr.isPaused()) return false
    const prevIndex = pr.next - 1
    const prevTerm = this.log.term(prevIndex)
    const entries = this.log.slice(pr.next, this.options.maxEntriesPerAppend)
    if (prevTerm === undefined || entries === undefined) {
      const sender = new SnapshotSender(this.snapshot, this.options.snapshotChunkBytes, this.options.maxSnapshotChunksInflight)
      pr.becomeSnapshot(sender)
      this.sendSnapshotChunks(to, sender)
      return true
    }
    if (entries.length === 0 && !sendIfEmpty) return false
    this.send({ type: 'append', to, term: this.term, prevIndex, prevTerm, entries, commit: this.log.committed })
    pr.sent(prevIndex + entries.length, entries.length)
    return true
  }

  private sendSnapshotChunks(to: NodeId, sender: SnapshotSender): void {
    const totalBytes = sender.snapshot.data.byteLength
    for (const { offset, data } of sender.takeChunks()) {
      this.send({ type: 'snapshot-chunk', to, term: this.term, snapshot: sender.meta, totalBytes, offset, data })
    }
  }

  private broadcastHeartbeat(readCtx: string | null): void {
    for (const [id, pr] of this.progress) {
      const commit = Math.min(pr.match, this.log.committed)
      this.send({ type: 'heartbeat', to: id, term: this.term, commit, readCtx })
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeout-now', to, term: this.term })
  }

  /** §5.3, §5.4.2: commit the highest index a quorum holds, if it is of the current term. */
  private maybeCommit(): boolean {
    const index = quorumMatchIndex(this.members.voters, (id) =>
      id === this.id ? this.log.lastIndex() : (this.progress.get(id)?.match ?? 0),
    )
    if (index <= this.log.committed || this.log.term(index) !== this.term) return false
    const firstOfTerm = this.log.term(this.log.committed) !== this.term
    this.log.commitTo(index)
    if (firstOfTerm) {
      for (const ctx of this.readsAwaitingCommit.splice(0)) this.startRead(ctx)
    }
    return true
  }

  private appendOwn(data: unknown, change?: ConfChange): { ok: true; index: number; term: number } {
    const index = this.log.lastIndex() + 1
    this.log.append([change ? { index, term: this.term, data, change } : { index, term: this.term, data }])
    this.needsBroadcast = true
    this.maybeCommit()
    return { ok: true, index, term: this.term }
  }

  // ---- reads ----

  private startRead(ctx: string): void {
    if (this.members.voters.size === 1 && this.members.voters.has(this.id)) {
      this.readStates.push({ ctx, index: this.log.committed })
      return
    }
    this.readOnly.add(ctx, this.log.committed, this.id)
    this.broadcastHeartbeat(ctx)
  }

  private ackRead(ctx: string, from: NodeId): void {
    const confirmed = this.readOnly.ack(ctx, from, (acks) => {
      let count = 0
      for (const id of acks) if (this.members.voters.has(id)) count++
      return count >= quorumSize(this.members.voters.size)
    })
    this.readStates.push(...confirmed)
  }

  // ---- membership ----

  private applyConfChange(change: ConfChange): void {
    this.members.apply(change)
    if (change.op === 'remove' && change.id === this.id) this.removed = true
    if (this.role !== Role.leader) return
    if (!this.members.voters.has(this.id)) {
      // Removed or demoted: tell the followers the commit index first, so that they apply the change
      // and elect a leader among themselves without waiting for it to be committed again.
      this.broadcastHeartbeat(null)
      this.becomeFollower(this.term, null)
      return
    }
    for (const member of this.members.all()) {
      if (member !== this.id && !this.progress.has(member)) this.progress.set(member, this.newProgress())
    }
    for (const [member, pr] of this.progress) {
      if (this.members.includes(member)) continue
      // A last word to the removed node: the log up to its removal and the commit index, so that it
      // learns the removal is committed and stops acting (no one will talk to it again).
      const entries = this.log.slice(pr.match + 1, this.log.committed - pr.match)
      const prevTerm = this.log.term(pr.match)
      if (entries && prevTerm !== undefined) {
        const commit = this.log.committed
        this.send({ type: 'append', to: member, term: this.term, prevIndex: pr.match, prevTerm, entries, commit })
      }
      this.progress.delete(member)
    }
    if (this.leadTransferee !== null && !this.members.voters.has(this.leadTransferee)) this.leadTransferee = null
    if (this.maybeCommit()) this.needsBroadcast = true
  }

  // ---- helpers ----

  private promotable(): boolean {
    return this.members.voters.has(this.id) && !this.removed
  }

  private refuseProposal(): ProposeResult | null {
    if (this.removed) return this.refusal('removed')
    if (this.role !== Role.leader) return this.refusal('not-leader')
    if (this.leadTransferee !== null) return this.refusal('transferring')
    return null
  }

  private refusal(reason: 'not-leader' | 'transferring' | 'conf-change-pending' | 'invalid' | 'removed'): ProposeResult {
    return { ok: false, reason, leader: this.leader }
  }

  private newProgress(): Progress {
    return new Progress(0, this.log.lastIndex() + 1, this.options.maxInflight)
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed }
  }

  private send(m: Outgoing): void {
    this.messages.push({ ...m, from: this.id } as Message)
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit
}
