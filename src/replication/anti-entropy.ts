import type { Logger } from 'pino'
import type { ReplicationMessage } from '../protocol/replication-codec.js'
import { guarded, refuseFromPeer } from './boundaries.js'
import type { DigestIndex } from './digest-index.js'
import type { DocExchange } from './doc-exchange.js'
import { RangeReconciler } from './range-reconciler.js'
import { sendMessage, type ReplicationTransport } from './transport.js'
import { TurnQueue, type TurnQueueLimits } from './turn-queue.js'

/** Messages of a reconciliation session (all but live updates, awareness and the chunks of any). */
type AntiEntropyMessage = Exclude<ReplicationMessage, { type: 'updates' | 'awareness' | 'chunk' | 'hold-check' | 'hold-answer' }>
type SessionMessage = Exclude<AntiEntropyMessage, { type: 'busy' }>

/** One reconciliation with one peer, as seen from this node. */
export interface ReconciliationStats {
  session: number
  /** Whether this node started it. */
  initiator: boolean
  /** Epoch ms of its first and of its latest message. */
  startedAt: number
  lastMessageAt: number
  /** Documents found to differ (by either side), so far. */
  differingDocs: number
  bytesSent: number
  bytesReceived: number
  messagesSent: number
  messagesReceived: number
}

interface Session {
  peer: string
  reconciler: RangeReconciler
  stats: ReconciliationStats
  /** Sessions this node had opened before this one, plus one: which sessions began after a given moment. */
  opened: number
}

interface IdenticalWaiter {
  /** Only a session opened after the call counts: an older one compared this node's documents as they were. */
  openedBefore: number
  settle(identical: boolean): void
}

/** A session with no message for this long is forgotten; its peer may have gone away mid-way. */
const sessionIdleMs = 30_000
/** A session with a message this recent is still at work: another with the same peer would only repeat it. */
const sessionBusyMs = 1_000
/**
 * Session work done per turn of the event loop, and the input it may hold while it waits. A message of a
 * reconciliation costs up to tens of milliseconds (hundreds of documents read or written); a healing partition
 * brings thousands of them.
 */
export const defaultSessionWork: TurnQueueLimits = { budgetMs: 20, maxBytes: 64 * 1024 * 1024 }

/**
 * Every `intervalMs`, reconcile all documents with one random linked peer: level 1 finds which documents
 * differ by range-based set reconciliation over (name, digest) — identical replicas cost one fingerprint
 * each way —, level 2 (DocExchange) exchanges the deltas of those only. A peer whose link comes up is
 * reconciled with at once, so that a healed partition does not wait for the next interval.
 */
export class AntiEntropy {
  private readonly sessions = new Map<string, Session>()
  /** Peers whose reconciliation, started by this node, waits for digests to be brought up to date. */
  private readonly starting = new Set<string>()
  /**
   * The session each peer started that waits, with its first message, for digests to be brought up to date.
   * One per peer: that wait is outside the work queue and its byte bound, so further new sessions are declined.
   */
  private readonly answering = new Map<string, number>()
  /** Retries of reconciliations a busy peer declined. */
  private readonly retries = new Set<NodeJS.Timeout>()
  private readonly lastByPeer = new Map<string, ReconciliationStats>()
  /** Callbacks of `whenIdenticalWith`, per peer. */
  private readonly identicalWaiters = new Map<string, Set<IdenticalWaiter>>()
  private sessionsOpened = 0
  private readonly work: TurnQueue
  private readonly timer: NodeJS.Timeout
  private nextSession = Math.floor(Math.random() * 2 ** 30)

  constructor(
    private readonly index: DigestIndex,
    private readonly exchange: DocExchange,
    private readonly transport: ReplicationTransport,
    intervalMs: number,
    sessionWork: TurnQueueLimits,
    private readonly log: Logger,
  ) {
    this.work = new TurnQueue(sessionWork, log)
    this.timer = setInterval(() => guarded(log, 'anti-entropy tick', () => this.tick()), intervalMs)
    this.timer.unref()
  }

  /** The latest reconciliation with each peer (started by either side). */
  lastReconciliations(): ReadonlyMap<string, ReconciliationStats> {
    return this.lastByPeer
  }

  /**
   * A peer's link came up. Reconcile with it at once — unless a reconciliation this node started is at work
   * already: what that one brings is relayed to this peer too, and the next tick covers the rest. A node back
   * from a partition thus exchanges its changes with one peer instead of with all of them at once.
   */
  linkUp(peer: string): void {
    // Sessions with this peer ran on a link that is gone, and may have lost messages with it.
    for (const [key, session] of this.sessions) {
      if (session.peer === peer) this.sessions.delete(key)
    }
    if (this.starting.size === 0 && !this.atWork((session) => session.stats.initiator)) this.reconcileWith(peer)
  }

  /**
   * Starts a reconciliation with `peer` once every digest stale now is computed, unless one with it (started
   * by either side) is at work. Reconciling with stale digests would send for every document changed since
   * — as many as a healing partition brought — a delta the peer may already hold.
   */
  reconcileWith(peer: string): void {
    if (this.starting.has(peer) || this.atWork((session) => session.peer === peer)) return
    this.starting.add(peer)
    this.index.whenFresh(() => {
      this.starting.delete(peer)
      if (!this.transport.connectedPeers().includes(peer)) return
      const session = this.openSession(peer, this.nextSession++, true)
      try {
        this.send(session, { type: 'range', session: session.stats.session, payload: session.reconciler.initiate() })
      } catch (err) {
        this.sessions.delete(sessionKey(peer, session.stats.session))
        this.log.error({ peer, session: session.stats.session, err }, 'starting a reconciliation failed')
      }
    })
  }

  /**
   * Starts a reconciliation with `peer` (see reconcileWith) and resolves true if one this node starts from now on
   * finds, at its first answer, the same documents at the same digests on both sides — the peer then holds durably
   * all that this node had committed when the session started —, or false if none does within `timeoutMs`.
   */
  whenIdenticalWith(peer: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiters = this.identicalWaiters.get(peer) ?? new Set()
      this.identicalWaiters.set(peer, waiters)
      const waiter: IdenticalWaiter = {
        openedBefore: this.sessionsOpened,
        settle: (identical) => {
          clearTimeout(timer)
          waiters.delete(waiter)
          resolve(identical)
        },
      }
      const timer = setTimeout(() => waiter.settle(false), timeoutMs)
      waiters.add(waiter)
      this.reconcileWith(peer)
    })
  }

  /** Handles a reconciliation message from `peer`, `bytes` long on the wire. */
  receive(peer: string, message: AntiEntropyMessage, bytes: number): void {
    const key = sessionKey(peer, message.session)
    const session = this.sessions.get(key)
    if (message.type === 'busy') {
      if (session) this.retryLater(key, session)
      return
    }
    const work: SessionMessage = message
    if (session) {
      this.queue(session, work, bytes)
      return
    }
    // While this node catches up through a session of its own that its peer answers, a second one would mostly
    // bring the same changes again (a node back from a partition hears from every peer at once): not now.
    if (this.atWork((s) => s.stats.initiator && s.stats.messagesReceived > 0)) {
      sendMessage(this.transport, peer, { type: 'busy', session: message.session })
      return
    }
    const waiting = this.answering.get(peer)
    if (waiting !== undefined) {
      // The peer sends nothing more in a session before it is answered; a new one waits for the first.
      if (waiting !== message.session) sendMessage(this.transport, peer, { type: 'busy', session: message.session })
      return
    }
    // A peer's new session is answered from digests brought up to date first, as reconcileWith starts one.
    this.answering.set(peer, message.session)
    this.index.whenFresh(() => {
      this.answering.delete(peer)
      this.queue(this.sessions.get(key) ?? this.openSession(peer, work.session, false), work, bytes)
    })
  }

  close(): void {
    clearInterval(this.timer)
    this.work.close()
    for (const retry of this.retries) clearTimeout(retry)
    this.sessions.clear()
    this.answering.clear()
    for (const waiters of this.identicalWaiters.values()) for (const waiter of [...waiters]) waiter.settle(false)
  }

  private queue(session: Session, message: SessionMessage, bytes: number): void {
    // Waiting its turn is being at work: another session with this peer now would only repeat this one.
    session.stats.lastMessageAt = Date.now()
    this.later(session, bytes, () => this.handle(session, message, bytes))
  }

  /**
   * Queues a step of `session`'s work, holding `bytes` of input, for a later turn of the event loop (see
   * TurnQueue); it runs only if the session is still open then (one whose link went down, or that failed, is
   * gone). This is the boundary of every step: one that fails ends its session, so that nothing of it holds back
   * the next one. Past the queue's bound, the session ends and the peer hears that this node is busy: it tries
   * again later, and the documents wait for that session.
   */
  private later(session: Session, bytes: number, step: () => void): void {
    const key = sessionKey(session.peer, session.stats.session)
    const queued = this.work.push(() => {
      if (this.sessions.get(key) !== session) return
      try {
        step()
      } catch (err) {
        this.sessions.delete(key)
        refuseFromPeer(this.transport, this.log, session.peer, err, session.stats.session)
      }
    }, bytes)
    if (queued) return
    this.sessions.delete(key)
    this.log.warn({ peer: session.peer, session: session.stats.session, bytes }, 'reconciliation work queue full; session declined')
    sendMessage(this.transport, session.peer, { type: 'busy', session: session.stats.session })
  }

  /** Sends what `messages` yields, one message per step: making each reads hundreds of documents. */
  private sendEach(session: Session, messages: Iterator<AntiEntropyMessage>): void {
    this.later(session, 0, () => {
      const next = messages.next()
      if (next.done) return
      this.send(session, next.value)
      this.sendEach(session, messages)
    })
  }

  private handle(session: Session, message: SessionMessage, bytes: number): void {
    // A session counts as the peer's latest reconciliation once both sides take part (not if it was declined).
    this.lastByPeer.set(session.peer, session.stats)
    session.stats.messagesReceived++
    session.stats.bytesReceived += bytes
    session.stats.lastMessageAt = Date.now()
    if (message.type === 'range') {
      const { reply, differing } = session.reconciler.receive(message.payload)
      if (session.stats.initiator && session.stats.messagesReceived === 1 && reply === null && differing.length === 0) {
        // The answer to this node's whole-set fingerprint was all skips: both sets are equal.
        for (const waiter of [...(this.identicalWaiters.get(session.peer) ?? [])]) {
          if (session.opened > waiter.openedBefore) waiter.settle(true)
        }
      }
      if (reply) this.send(session, { type: 'range', session: message.session, payload: reply })
      if (differing.length > 0) {
        session.stats.differingDocs += differing.length
        this.sendEach(session, this.exchange.requests(message.session, differing))
      }
      return
    }
    if (message.type === 'doc-request') session.stats.differingDocs += message.docs.length
    for (const answer of this.exchange.receive(session.peer, message)) this.send(session, answer)
  }

  private tick(): void {
    const now = Date.now()
    for (const [key, session] of this.sessions) {
      if (now - session.stats.lastMessageAt > sessionIdleMs) this.sessions.delete(key)
    }
    // Every tick, with or without a peer to talk to: digests stay fresh while a node is alone, so that the
    // reconciliation after a partition heals starts at once, and documents in memory get theirs here.
    this.index.refresh()
    const peers = this.transport.connectedPeers()
    if (peers.length > 0) this.reconcileWith(peers[Math.floor(Math.random() * peers.length)]!)
  }

  /** The peer declined the session: try again once its own session is likely done, not only at the next interval. */
  private retryLater(key: string, session: Session): void {
    this.sessions.delete(key)
    const retry = setTimeout(() => {
      this.retries.delete(retry)
      guarded(this.log, 'anti-entropy retry', () => {
        if (this.transport.connectedPeers().includes(session.peer)) this.reconcileWith(session.peer)
      })
    }, sessionBusyMs)
    retry.unref()
    this.retries.add(retry)
  }

  /**
   * Whether a session that `match`es had a message within sessionBusyMs, on a link that is still up: one
   * whose link went down (a partition cutting it mid-way) brings nothing more, and must not hold back others.
   */
  private atWork(match: (session: Session) => boolean): boolean {
    const now = Date.now()
    const connected = new Set(this.transport.connectedPeers())
    for (const session of this.sessions.values()) {
      if (match(session) && connected.has(session.peer) && now - session.stats.lastMessageAt < sessionBusyMs) return true
    }
    return false
  }

  private openSession(peer: string, id: number, initiator: boolean): Session {
    const now = Date.now()
    const stats: ReconciliationStats = {
      session: id,
      initiator,
      startedAt: now,
      lastMessageAt: now,
      differingDocs: 0,
      bytesSent: 0,
      bytesReceived: 0,
      messagesSent: 0,
      messagesReceived: 0,
    }
    const session = { peer, reconciler: new RangeReconciler(this.index.items), stats, opened: ++this.sessionsOpened }
    this.sessions.set(sessionKey(peer, id), session)
    return session
  }

  private send(session: Session, message: AntiEntropyMessage): void {
    const bytes = sendMessage(this.transport, session.peer, message)
    if (bytes === 0) {
      this.log.debug({ peer: session.peer, session: session.stats.session }, 'anti-entropy message dropped')
      return
    }
    session.stats.bytesSent += bytes
    session.stats.messagesSent++
    session.stats.lastMessageAt = Date.now()
  }
}

function sessionKey(peer: string, session: number): string {
  return `${peer}\u0000${session}`
}
