import type { ChangeRecorder } from './change-recorder.js'
import { formatCursor, parseCursor } from './cursor.js'

/** One change of one document, as a consumer of the feed sees it. */
export interface ChangeEvent {
  /** Resume after this event by passing it as `since` (or as SSE `Last-Event-ID`). */
  cursor: string
  type: 'updated' | 'deleted'
  name: string
  /** ISO 8601: when the change became durable on this node. */
  time: string
  /** The document's stored size after the change; 0 for a deletion. */
  bytes: number
  /** Base64 Yjs state vector of the document after the change; null for a deletion. */
  stateVector: string | null
}

export type ChangePage =
  | { ok: true; changes: ChangeEvent[]; nextCursor: string }
  /**
   * `expired`: events after the cursor were removed by retention. `unknown`: the cursor is of another node's feed,
   * or of this node's before its data was wiped. Either way, `oldestCursor` reads every event still kept.
   */
  | { ok: false; reason: 'expired' | 'unknown'; oldestCursor: string }
  | { ok: false; reason: 'invalid' }

/** Events looked at per page beyond the page itself, for callers who may see only some documents. */
const scanPerItem = 10
const scanMin = 1_000

/**
 * Reads a node's change feed (what ChangeRecorder made durable) for one consumer at a time: pages after a
 * cursor, filtered by what the caller may see, and waits for the next recording. Waiting consumers — long
 * polls and event streams — are bounded: each holds a connection and a timer.
 */
export class ChangeFeed {
  private readonly sleepers = new Set<() => void>()
  private consumers = 0
  private closed = false
  private readonly stopListening: () => void

  constructor(
    private readonly recorder: ChangeRecorder,
    private readonly maxConsumers: number,
  ) {
    this.stopListening = recorder.onRecorded(() => this.wakeAll())
  }

  /** The events after `since` (from the oldest kept without it) whose document `visible` lets through, at most `limit`. */
  page(since: string | undefined, visible: (name: string) => boolean, limit: number): ChangePage {
    const log = this.recorder.changes
    const durable = this.recorder.durableSeq
    const oldestSeq = log.firstSeq() ?? durable + 1
    const oldestCursor = formatCursor({ logId: log.logId, seq: oldestSeq - 1 })
    let afterSeq = oldestSeq - 1
    if (since !== undefined) {
      const cursor = parseCursor(since)
      if (!cursor) return { ok: false, reason: 'invalid' }
      if (cursor.logId !== log.logId || cursor.seq > durable) return { ok: false, reason: 'unknown', oldestCursor }
      if (cursor.seq < oldestSeq - 1) return { ok: false, reason: 'expired', oldestCursor }
      afterSeq = cursor.seq
    }
    const changes: ChangeEvent[] = []
    let lastSeq = afterSeq
    for (const { seq, change } of log.read(afterSeq, Math.max(scanMin, limit * scanPerItem))) {
      if (seq > durable) break
      lastSeq = seq
      if (!visible(change.name)) continue
      changes.push({
        cursor: formatCursor({ logId: log.logId, seq }),
        type: change.type,
        name: change.name,
        time: new Date(change.timeMs).toISOString(),
        bytes: change.bytes,
        stateVector: change.stateVector ? Buffer.from(change.stateVector).toString('base64') : null,
      })
      if (changes.length === limit) break
    }
    return { ok: true, changes, nextCursor: formatCursor({ logId: log.logId, seq: lastSeq }) }
  }

  /**
   * A consumer's place among the waiting ones, or null when all are taken. Call the function returned when the
   * consumer is done.
   */
  admit(): (() => void) | null {
    if (this.closed || this.consumers >= this.maxConsumers) return null
    this.consumers++
    let released = false
    return () => {
      if (released) return
      released = true
      this.consumers--
    }
  }

  /** Resolves at the next recording, after `ms`, when `signal` aborts or the feed closes, whichever is first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', wake)
        this.sleepers.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      signal?.addEventListener('abort', wake)
      this.sleepers.add(wake)
    })
  }

  get consumerCount(): number {
    return this.consumers
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Wakes every waiting consumer, who then ends. */
  close(): void {
    this.closed = true
    this.stopListening()
    this.wakeAll()
  }

  private wakeAll(): void {
    for (const wake of [...this.sleepers]) wake()
  }
}
