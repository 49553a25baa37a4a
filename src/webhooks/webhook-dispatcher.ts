import type { Logger } from 'pino'
import type { ChangeLogStorage, StoredChange } from '../storage/change-log.js'
import { keptAttempts, type DeliveryAttempt, type StoredDelivery, type WebhookStorage } from '../storage/webhook-storage.js'
import type { Webhook } from '../meta/state.js'
import { formatCursor } from '../changes/cursor.js'
import type { NoticedDoc, WebhookNotice } from '../protocol/webhook-notice.js'
import { covers, merged, nothingDelivered, withDelivered } from './coverage.js'
import { deliveryBody, messageIdOf } from './delivery-message.js'
import { responsibleNode } from './responsibility.js'
import { afterFailure, type RetryPolicy } from './retry-schedule.js'
import { sendDelivery } from './send-delivery.js'

export interface DispatcherOptions {
  retry: RetryPolicy
  /** How long a receiver may take to answer one attempt. */
  timeoutMs: number
  /** Attempts one webhook has under way at once while its receiver answers; one while it does not. */
  maxInFlight: number
  /** Finished deliveries kept per webhook, for `GET /v1/webhooks/:id/deliveries`. */
  keepFinished: number
}

export const defaultDispatcherOptions: Omit<DispatcherOptions, 'retry'> = {
  timeoutMs: 10_000,
  maxInFlight: 4,
  keepFinished: 1_000,
}

export interface DispatcherDeps {
  selfId: string
  storage: WebhookStorage
  /** This node's change feed and how far it is durable. */
  feed: { readonly changes: ChangeLogStorage; readonly durableSeq: number; onRecorded(listener: () => void): () => void }
  /** Runs `write` inside the next group commit; resolves once it is durable. */
  commit(write: () => void): Promise<void>
  webhooks(): ReadonlyMap<string, Webhook>
  /** The members that can deliver now: those this node has a link with, and itself if it is one. */
  reachableMembers(): string[]
  /** Sends a notice to every peer linked now. */
  broadcast(notice: WebhookNotice): void
  onOutcome?(outcome: 'delivered' | 'retrying' | 'failed'): void
}

/** Events read from the change feed per webhook per pass. */
const scanBatch = 500
/** A pass runs at least this often, whatever changes it was not told of. */
const idlePassMs = 10_000
/** How far the clocks of two nodes may be apart: a node starts a new webhook's deliveries this much before its registration. */
const clockSkewMs = 60_000
/** Finished deliveries beyond `keepFinished` are removed at most this often per webhook. */
const pruneIntervalMs = 60_000

/**
 * Delivers the change feed to the cluster's webhooks, at least once. Every node runs one; for each webhook only
 * the responsible node (see responsibility.ts) sends. Each node walks its own change feed per webhook:
 * - the responsible node queues every matching event in LMDB (durable before the first attempt), then sends it
 *   with retries until it is delivered or its retry window ends (failed, and kept visible);
 * - the others only move past events that some node has already delivered, as the responsible node's notices
 *   tell them (the ledger, per document), and stop at the first that none has: if responsibility comes to them,
 *   that is where they start queueing. A change is never passed over unsent, whoever dies; what a missed notice
 *   costs is a duplicate, with the same `webhook-id` (delivery-message.ts).
 */
export class WebhookDispatcher {
  private readonly inFlight = new Map<string, Set<number>>()
  /** Webhooks whose latest attempt failed: they get one attempt at a time until one succeeds. */
  private readonly failing = new Set<string>()
  private readonly prunedAt = new Map<string, number>()
  /**
   * Webhooks this node does not send whose cursor waits at an event none has delivered, by that event's document:
   * nothing moves the cursor before a notice about that document (or retention), so a pass need not look again.
   */
  private readonly blockedOn = new Map<string, string>()
  private readonly stop = new AbortController()
  private readonly stopListening: () => void
  private running: Promise<void> | null = null
  private passAgain = false
  private timer: NodeJS.Timeout | null = null
  private closed = false

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly options: DispatcherOptions,
    private readonly log: Logger,
  ) {
    this.stopListening = deps.feed.onRecorded(() => this.poke())
    this.poke()
  }

  /** Runs a pass soon: call when the webhooks, the members or the links change. */
  poke(): void {
    if (this.closed) return
    if (this.running) {
      this.passAgain = true
      return
    }
    this.running = this.passes().finally(() => (this.running = null))
  }

  /** A peer's notice: the documents' content it delivered (or gave up on) for a webhook. */
  async noticed(notice: WebhookNotice): Promise<void> {
    if (this.closed || !this.deps.webhooks().has(notice.webhookId)) return
    const { storage } = this.deps
    await this.commitFor(notice.webhookId, () => {
      for (const doc of notice.docs) {
        const before = storage.delivered(notice.webhookId, doc.name) ?? nothingDelivered
        storage.setDelivered(notice.webhookId, doc.name, merged(before, doc))
      }
    })
    if (notice.docs.some((doc) => doc.name === this.blockedOn.get(notice.webhookId))) this.blockedOn.delete(notice.webhookId)
    this.poke()
  }

  /**
   * Drops what this node holds for webhooks the metadata no longer has. Call it when a deletion was applied or a
   * snapshot restored, not at any time: while a restarted node replays its log, the metadata lacks webhooks
   * registered since its last snapshot.
   */
  async forgetRemoved(): Promise<void> {
    const webhooks = this.deps.webhooks()
    const removed = this.deps.storage.webhookIds().filter((id) => !webhooks.has(id))
    if (removed.length === 0) return
    await this.deps.commit(() => removed.forEach((id) => this.deps.storage.forget(id)))
    for (const id of removed) {
      this.inFlight.delete(id)
      this.failing.delete(id)
      this.prunedAt.delete(id)
      this.blockedOn.delete(id)
    }
  }

  /** This node's deliveries of a webhook, newest first. */
  deliveries(webhookId: string, filter: { status?: StoredDelivery['status']; limit: number }) {
    const found: { eventSeq: number; delivery: StoredDelivery }[] = []
    for (const entry of this.deps.storage.recentDeliveries(webhookId)) {
      if (filter.status !== undefined && entry.delivery.status !== filter.status) continue
      found.push(entry)
      if (found.length === filter.limit) break
    }
    return found
  }

  /** The node sending the webhook's deliveries now, as this node sees the cluster. */
  responsibleNode(webhookId: string): string | null {
    return responsibleNode(webhookId, this.deps.reachableMembers())
  }

  pendingCount(): number {
    let pending = 0
    for (const id of this.deps.webhooks().keys()) pending += this.deps.storage.pendingCount(id)
    return pending
  }

  /** Stops sending: attempts under way are aborted and stay pending. */
  async close(): Promise<void> {
    this.closed = true
    this.stopListening()
    if (this.timer) clearTimeout(this.timer)
    this.stop.abort()
    await this.running
  }

  private isResponsible(webhookId: string): boolean {
    return this.responsibleNode(webhookId) === this.deps.selfId
  }

  /**
   * Commits `write` unless the webhook was removed meanwhile: a pass or an attempt under way when the removal was
   * applied leaves nothing behind for it.
   */
  private commitFor(webhookId: string, write: () => void): Promise<void> {
    return this.deps.commit(() => {
      if (this.deps.webhooks().has(webhookId)) write()
    })
  }

  private async passes(): Promise<void> {
    do {
      this.passAgain = false
      try {
        await this.pass()
      } catch (err) {
        if (!this.closed) this.log.error({ err }, 'webhook dispatch pass failed')
      }
    } while (this.passAgain && !this.closed)
    this.scheduleNextPass()
  }

  private async pass(): Promise<void> {
    for (const webhook of this.deps.webhooks().values()) {
      if (this.closed) return
      const responsible = this.isResponsible(webhook.id)
      await this.queue(webhook, responsible)
      if (responsible) this.sendDue(webhook)
    }
  }

  /** Walks the change feed after the webhook's cursor: see the class comment. */
  private async queue(webhook: Webhook, responsible: boolean): Promise<void> {
    const { storage, feed } = this.deps
    const durable = feed.durableSeq
    const cursor = storage.cursorOf(webhook.id)
    if (cursor === undefined) {
      // A webhook is sent the changes this node recorded since its registration, however late the node learns of
      // it (it was down, or joined since): a node that takes the webhook over must not have passed them by.
      // Webhooks registered before their creation time was kept get the changes from when the node learns of them.
      const start = webhook.createdAtMs === undefined ? durable : Math.min(durable, feed.changes.seqBefore(webhook.createdAtMs - clockSkewMs))
      await this.commitFor(webhook.id, () => storage.setCursor(webhook.id, start))
      this.passAgain = true
      return
    }
    const oldest = feed.changes.firstSeq()
    let from = cursor
    if (oldest !== undefined && cursor < oldest - 1) {
      this.log.warn({ webhook: webhook.id, cursor, oldest }, 'webhook: change-feed events were removed by retention before they were sent')
      from = oldest - 1
    }
    if (responsible) this.blockedOn.delete(webhook.id)
    else if (from === cursor && this.blockedOn.has(webhook.id)) return
    const queued: [number, StoredDelivery][] = []
    let advanced = from
    let read = 0
    for (const { seq, change } of feed.changes.read(from, scanBatch)) {
      if (seq > durable) break
      read++
      if (matches(webhook, change) && !covers(storage.delivered(webhook.id, change.name) ?? nothingDelivered, change)) {
        if (!responsible) {
          this.blockedOn.set(webhook.id, change.name)
          break
        }
        queued.push([seq, newDelivery(webhook.id, change)])
      }
      advanced = seq
    }
    if (advanced === cursor) return
    // Pruning counts the webhook's deliveries: not at every pass, where a backlog is long.
    const pruning = queued.length > 0 && Date.now() - (this.prunedAt.get(webhook.id) ?? 0) >= pruneIntervalMs
    if (pruning) this.prunedAt.set(webhook.id, Date.now())
    await this.commitFor(webhook.id, () => {
      for (const [seq, delivery] of queued) storage.putDelivery(webhook.id, seq, delivery)
      storage.setCursor(webhook.id, advanced)
      if (pruning) storage.pruneFinished(webhook.id, this.options.keepFinished)
    })
    if (read === scanBatch) this.passAgain = true
  }

  private sendDue(webhook: Webhook): void {
    const inFlight = this.inFlight.get(webhook.id) ?? new Set<number>()
    this.inFlight.set(webhook.id, inFlight)
    const limit = this.inFlightLimit(webhook.id)
    if (inFlight.size >= limit) return
    const due = this.deps.storage.dueSeqs(webhook.id, Date.now(), limit + inFlight.size).filter((seq) => !inFlight.has(seq))
    for (const seq of due.slice(0, limit - inFlight.size)) {
      inFlight.add(seq)
      this.attempt(webhook, seq)
        .catch((err: unknown) => this.closed || this.log.error({ err, webhook: webhook.id, seq }, 'webhook delivery failed to run'))
        .finally(() => {
          inFlight.delete(seq)
          this.poke()
        })
    }
  }

  private async attempt(webhook: Webhook, seq: number): Promise<void> {
    const { storage, feed } = this.deps
    const delivery = storage.delivery(webhook.id, seq)
    if (delivery?.status !== 'pending') return
    const delivered = storage.delivered(webhook.id, delivery.change.name) ?? nothingDelivered
    if (covers(delivered, delivery.change)) {
      // Another delivery (this node's, later, or another node's) already carried this change.
      await this.finish(webhook.id, seq, { ...delivery, status: 'superseded', dueMs: null, finishedMs: Date.now() })
      return
    }
    const body = deliveryBody(delivery.change, { node: this.deps.selfId, cursor: formatCursor({ logId: feed.changes.logId, seq }) })
    const attempt = await sendDelivery(webhook, delivery.messageId, body, this.options.timeoutMs, this.stop.signal)
    if (this.closed || !this.deps.webhooks().has(webhook.id)) return
    const tried = withAttempt(delivery, attempt)
    if (attempt.error === null) {
      this.failing.delete(webhook.id)
      this.deps.onOutcome?.('delivered')
      await this.finish(webhook.id, seq, { ...tried, status: 'delivered', dueMs: null, finishedMs: attempt.timeMs })
      return
    }
    this.failing.add(webhook.id)
    const next = afterFailure(this.options.retry, tried.attempts, tried.firstAttemptMs!, Date.now(), Math.random())
    this.deps.onOutcome?.(next.status === 'failed' ? 'failed' : 'retrying')
    if (next.status === 'pending') {
      await this.commitFor(webhook.id, () => storage.putDelivery(webhook.id, seq, { ...tried, dueMs: next.dueMs }))
      return
    }
    this.log.warn({ webhook: webhook.id, doc: delivery.change.name, attempts: tried.attempts, error: attempt.error }, 'webhook delivery failed for good')
    await this.finish(webhook.id, seq, { ...tried, status: 'failed', dueMs: null, finishedMs: Date.now() })
  }

  /**
   * Records a delivery's end, and that its change was dealt with, here and (by notice) on the peers: a failed
   * delivery too, so that no node retries it after its window.
   */
  private async finish(webhookId: string, seq: number, delivery: StoredDelivery): Promise<void> {
    const { storage } = this.deps
    let noticed: NoticedDoc | null = null
    await this.commitFor(webhookId, () => {
      storage.putDelivery(webhookId, seq, delivery)
      if (delivery.status === 'superseded') return
      const before = storage.delivered(webhookId, delivery.change.name) ?? nothingDelivered
      const after = withDelivered(before, delivery.change)
      storage.setDelivered(webhookId, delivery.change.name, after)
      noticed = { name: delivery.change.name, ...after }
    })
    if (noticed) this.deps.broadcast({ webhookId, docs: [noticed] })
  }

  private inFlightLimit(webhookId: string): number {
    return this.failing.has(webhookId) ? 1 : this.options.maxInFlight
  }

  /**
   * The next pass is due when the soonest pending delivery is — of the webhooks this node sends and that have room
   * for another attempt: an attempt that ends starts a pass of its own.
   */
  private scheduleNextPass(): void {
    if (this.closed) return
    if (this.timer) clearTimeout(this.timer)
    let next = Date.now() + idlePassMs
    for (const webhook of this.deps.webhooks().values()) {
      if ((this.inFlight.get(webhook.id)?.size ?? 0) >= this.inFlightLimit(webhook.id) || !this.isResponsible(webhook.id)) continue
      const due = this.deps.storage.nextDueMs(webhook.id)
      if (due !== null && due < next) next = due
    }
    this.timer = setTimeout(() => this.poke(), Math.max(0, next - Date.now()))
    this.timer.unref()
  }
}

function matches(webhook: Webhook, change: StoredChange): boolean {
  return webhook.events.includes(change.type) && change.name.startsWith(webhook.prefix)
}

function newDelivery(webhookId: string, change: StoredChange): StoredDelivery {
  return {
    messageId: messageIdOf(webhookId, change),
    change,
    status: 'pending',
    createdMs: Date.now(),
    dueMs: Date.now(),
    attempts: 0,
    firstAttemptMs: null,
    recentAttempts: [],
    finishedMs: null,
  }
}

function withAttempt(delivery: StoredDelivery, attempt: DeliveryAttempt): StoredDelivery {
  return {
    ...delivery,
    attempts: delivery.attempts + 1,
    firstAttemptMs: delivery.firstAttemptMs ?? attempt.timeMs,
    recentAttempts: [...delivery.recentAttempts, attempt].slice(-keptAttempts),
  }
}
