import type { Database, RootDatabase } from 'lmdb'
import type { StoredChange } from './change-log.js'

export const deliveryStatuses = ['pending', 'delivered', 'failed', 'superseded'] as const
export type DeliveryStatus = (typeof deliveryStatuses)[number]

export interface DeliveryAttempt {
  timeMs: number
  /** The receiver's HTTP status, or null when it gave none (refused, timed out, reset). */
  status: number | null
  /** Why the attempt failed; null for a 2xx answer. */
  error: string | null
  durationMs: number
}

/** One event of this node's change feed queued for one webhook, and what became of it. */
export interface StoredDelivery {
  /** The Standard Webhooks `webhook-id`: the same on every node for the same change (see delivery-message.ts). */
  messageId: string
  change: StoredChange
  status: DeliveryStatus
  createdMs: number
  /** When the next attempt is due, while pending. */
  dueMs: number | null
  attempts: number
  firstAttemptMs: number | null
  /** The latest attempts, oldest first (at most `keptAttempts`). */
  recentAttempts: DeliveryAttempt[]
  finishedMs: number | null
}

/** What some node delivered of one document to one webhook (webhooks/coverage.ts). */
export interface StoredDeliveredState {
  stateVector: Uint8Array
  deleted: boolean
}

export const keptAttempts = 10

type DeliveryKey = [string, number]
type DueKey = [string, number, number]
type LedgerKey = [string, string]

const maxSeq = Number.MAX_SAFE_INTEGER

/**
 * The webhook delivery queue of this node, in its LMDB environment. Per webhook: how far this node's change feed
 * has been queued or found delivered (the cursor), its deliveries keyed by event seq, the pending ones by when
 * they are due, and the ledger of what any node has delivered, per document. Writers call these inside a write
 * transaction (they go into the documents' group commit: see WebhookDispatcher).
 */
export class WebhookStorage {
  private readonly cursors: Database<number, string>
  private readonly deliveries: Database<StoredDelivery, DeliveryKey>
  private readonly due: Database<true, DueKey>
  private readonly ledger: Database<StoredDeliveredState, LedgerKey>

  constructor(env: RootDatabase) {
    this.cursors = env.openDB<number, string>({ name: 'webhook-cursor', encoding: 'msgpack' })
    this.deliveries = env.openDB<StoredDelivery, DeliveryKey>({ name: 'webhook-delivery', encoding: 'msgpack' })
    this.due = env.openDB<true, DueKey>({ name: 'webhook-due', encoding: 'msgpack' })
    this.ledger = env.openDB<StoredDeliveredState, LedgerKey>({ name: 'webhook-ledger', encoding: 'msgpack' })
  }

  /** Every event of the change feed up to this seq is queued here or was found delivered; undefined before the first pass. */
  cursorOf(webhookId: string): number | undefined {
    return this.cursors.get(webhookId)
  }

  setCursor(webhookId: string, seq: number): void {
    this.cursors.putSync(webhookId, seq)
  }

  /** Ids of the webhooks this node holds anything for. */
  webhookIds(): string[] {
    return [...this.cursors.getKeys()]
  }

  delivery(webhookId: string, eventSeq: number): StoredDelivery | undefined {
    return this.deliveries.get([webhookId, eventSeq])
  }

  /** Writes the delivery, keeping the due index in step with its status. */
  putDelivery(webhookId: string, eventSeq: number, delivery: StoredDelivery): void {
    const previous = this.deliveries.get([webhookId, eventSeq])
    if (previous?.dueMs != null) this.due.removeSync([webhookId, previous.dueMs, eventSeq])
    this.deliveries.putSync([webhookId, eventSeq], delivery)
    if (delivery.dueMs !== null) this.due.putSync([webhookId, delivery.dueMs, eventSeq], true)
  }

  /** Pending deliveries due at `nowMs` or before, soonest first, as event seqs. */
  dueSeqs(webhookId: string, nowMs: number, limit: number): number[] {
    const range = this.due.getKeys({ start: [webhookId, 0, 0], end: [webhookId, nowMs, maxSeq], limit })
    return [...range].map(([, , seq]) => seq)
  }

  /** When the soonest pending delivery is due, or null when none is pending. */
  nextDueMs(webhookId: string): number | null {
    for (const [, dueMs] of this.due.getKeys({ start: [webhookId, 0, 0], end: [webhookId, maxSeq, maxSeq], limit: 1 })) return dueMs
    return null
  }

  pendingCount(webhookId: string): number {
    return this.due.getKeysCount({ start: [webhookId, 0, 0], end: [webhookId, maxSeq, maxSeq] })
  }

  /** Deliveries newest first, with their event seq. */
  *recentDeliveries(webhookId: string): Generator<{ eventSeq: number; delivery: StoredDelivery }> {
    for (const { key, value } of this.deliveries.getRange({ start: [webhookId, maxSeq], end: [webhookId, -1], reverse: true })) {
      yield { eventSeq: key[1], delivery: value }
    }
  }

  /** Removes the oldest finished deliveries beyond the newest `keep`; pending ones stay. */
  pruneFinished(webhookId: string, keep: number): void {
    let excess = this.deliveries.getKeysCount({ start: [webhookId, 0], end: [webhookId, maxSeq] }) - this.pendingCount(webhookId) - keep
    if (excess <= 0) return
    for (const { key, value } of this.deliveries.getRange({ start: [webhookId, 0], end: [webhookId, maxSeq] })) {
      if (excess <= 0) break
      if (value.status === 'pending') continue
      this.deliveries.removeSync(key)
      excess--
    }
  }

  delivered(webhookId: string, name: string): StoredDeliveredState | undefined {
    return this.ledger.get([webhookId, name])
  }

  setDelivered(webhookId: string, name: string, state: StoredDeliveredState): void {
    this.ledger.putSync([webhookId, name], state)
  }

  /** Everything held for a webhook that was removed. */
  forget(webhookId: string): void {
    this.cursors.removeSync(webhookId)
    for (const key of this.deliveries.getKeys({ start: [webhookId, 0], end: [webhookId, maxSeq] })) this.deliveries.removeSync(key)
    for (const key of this.due.getKeys({ start: [webhookId, 0, 0], end: [webhookId, maxSeq, maxSeq] })) this.due.removeSync(key)
    for (const key of this.ledger.getKeys({ start: [webhookId, ''] })) {
      if (key[0] !== webhookId) break
      this.ledger.removeSync(key)
    }
  }
}
