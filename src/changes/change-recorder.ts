import type { Logger } from 'pino'
import * as Y from 'yjs'
import type { DocStore } from '../docs/doc-store.js'
import { deletedMark, type ChangeLogStorage, type StoredChange } from '../storage/change-log.js'
import { StateVectorTracker } from './state-vectors.js'

export interface ChangeRecorderOptions {
  /** Events older than this are removed. */
  retentionMs: number
  /** At most this many events are kept; the oldest go first. */
  maxEvents: number
  /**
   * Events are recorded once no document has changed for this long — one event for a burst of changes to a
   * document — or once the oldest change waiting is `maxDelayMs` old, under a steady stream of changes.
   */
  quietMs: number
  maxDelayMs: number
}

export const defaultChangeRecorderOptions: ChangeRecorderOptions = {
  retentionMs: 7 * 24 * 3_600_000,
  maxEvents: 1_000_000,
  quietMs: 50,
  maxDelayMs: 1_000,
}

/** Documents recorded per transaction, and old events removed per transaction: each pass stays short. */
const recordBatch = 500
const pruneBatch = 5_000
/** Retention is applied at every recording, and this often when nothing changes. */
const pruneIntervalMs = 10 * 60_000
/** Documents not in memory whose state vector is followed from event to event. */
const trackedDocs = 10_000

/**
 * Turns the marks that writes and removals leave (storage/change-log.ts) into change-feed events, written
 * with the next group commit and durable before any reader sees them: a consumer's cursor never points at
 * an event that a crash could take back and hand to another change. A document's updates that come while its
 * event waits (see `quietMs`) or is being recorded make one event, or one more.
 */
export class ChangeRecorder {
  private readonly due = new Set<string>()
  private lastChangeAt = 0
  /** When the oldest change still waiting for its event came. */
  private firstDueAt: number | null = null
  private timer: NodeJS.Timeout | null = null
  private recording: Promise<void> | null = null
  /** Documents of the recording under way, whose events are not durable yet. */
  private recordingDocs = 0
  private readonly pruneTimer: NodeJS.Timeout
  private closed = false
  /** The newest event that is durable: what readers may see. */
  private durable: number
  private readonly listeners = new Set<() => void>()
  private readonly stateVectors = new StateVectorTracker(trackedDocs)
  private readonly stopListening: () => void

  constructor(
    private readonly docs: DocStore,
    readonly changes: ChangeLogStorage,
    private readonly log: Logger,
    private readonly options: ChangeRecorderOptions,
  ) {
    this.durable = this.changes.headSeq
    this.stopListening = docs.on({
      committed: (name, updates, meta) => {
        // A document in memory has its state vector at hand.
        if (docs.isLoaded(name)) this.stateVectors.forget(name)
        else this.stateVectors.committed(name, meta.nextSeq, updates.map((u) => u.update))
        this.changed(name)
      },
      deleted: (name) => {
        this.stateVectors.forget(name)
        this.changed(name)
      },
      // Replication computes a changed document's digest soon after the change: its snapshot has the state vector.
      summarized: (name, summary) => {
        if (!docs.isLoaded(name)) this.stateVectors.set(name, summary.seq, Y.decodeSnapshot(summary.snapshot).sv)
      },
    })
    // Changes made durable before a crash or shutdown whose events were not recorded yet.
    for (const { name } of this.changes.marked()) this.changed(name)
    this.pruneTimer = setInterval(() => {
      if (!this.recording && !this.timer) void this.record()
    }, pruneIntervalMs)
    this.pruneTimer.unref()
  }

  get durableSeq(): number {
    return this.durable
  }

  /** Documents changed whose event is not durable yet: waiting, or in the recording under way. */
  get dueCount(): number {
    return this.due.size + this.recordingDocs
  }

  /** Calls `listener` after every recording that made new events durable; returns what removes it. */
  onRecorded(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Records everything due now, and resolves once it is durable. */
  async flush(): Promise<void> {
    do {
      while (this.recording) await this.recording
      if (this.timer) clearTimeout(this.timer)
      this.timer = null
      await this.record()
    } while (this.due.size > 0)
  }

  /** Records what is due, then stops; call it before the DocStore closes (later changes keep their marks for the next start). */
  async close(): Promise<void> {
    await this.flush()
    this.closed = true
    clearInterval(this.pruneTimer)
    this.stopListening()
  }

  private changed(name: string): void {
    this.due.add(name)
    this.lastChangeAt = Date.now()
    this.firstDueAt ??= this.lastChangeAt
    this.schedule(this.options.quietMs)
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.timer || this.recording) return
    this.timer = setTimeout(() => {
      this.timer = null
      const nowMs = Date.now()
      const quietFor = nowMs - this.lastChangeAt
      const waitedFor = nowMs - (this.firstDueAt ?? nowMs)
      const { quietMs, maxDelayMs } = this.options
      if (quietFor >= quietMs || waitedFor >= maxDelayMs) void this.record()
      else this.schedule(Math.min(quietMs - quietFor, maxDelayMs - waitedFor))
    }, delayMs)
    this.timer.unref()
  }

  private record(): Promise<void> {
    const names = [...this.due].slice(0, recordBatch)
    for (const name of names) this.due.delete(name)
    // What is left is as old as before: it goes in the next pass at once.
    if (this.due.size === 0) this.firstDueAt = null
    this.recordingDocs = names.length
    this.recording = this.write(names)
      .catch((err: unknown) => {
        // The marks are still there: the next start records these, or the next change of each document.
        this.log.error({ err }, 'recording change-feed events failed')
      })
      .finally(() => {
        this.recording = null
        this.recordingDocs = 0
        if (this.due.size > 0) this.schedule(this.options.quietMs)
      })
    return this.recording
  }

  private async write(names: string[]): Promise<void> {
    // Read outside the transaction: a state vector may need the document read from storage. A write that
    // lands meanwhile marks its document again, and append leaves that mark for the next event.
    const changes = names.flatMap((name) => this.describe(name))
    const nowMs = Date.now()
    const { retentionMs, maxEvents } = this.options
    let appended: number | null = null
    await this.docs.writeWithNextCommit(() => {
      for (const { change, mark } of changes) appended = this.changes.append(change, mark)
      this.changes.prune(nowMs - retentionMs, maxEvents, pruneBatch)
    })
    if (appended === null) return
    this.durable = appended
    for (const listener of this.listeners) listener()
  }

  /** The event a document's mark calls for, if it still has one. */
  private describe(name: string): { change: StoredChange; mark: number }[] {
    const mark = this.changes.markOf(name)
    if (mark === undefined) return []
    if (mark === deletedMark) return [{ change: { type: 'deleted', name, timeMs: Date.now(), bytes: 0 }, mark }]
    const meta = this.docs.meta(name)
    const stateVector = meta && this.stateVectorOf(name, meta.nextSeq)
    if (!meta || !stateVector) return []
    const change: StoredChange = { type: 'updated', name, timeMs: meta.updatedAtMs, bytes: meta.baseBytes + meta.logBytes, stateVector }
    return [{ change, mark: meta.nextSeq }]
  }

  /** The document's state vector at meta `nextSeq` = `seq`, or undefined when it cannot be had now. */
  private stateVectorOf(name: string, seq: number): Uint8Array | undefined {
    const loaded = this.docs.loadedStateVector(name)
    // A commit in storage but not yet in the open document: its `committed` event, once published, makes the
    // document due again, and its mark is still there then.
    if (loaded) return loaded.seq === seq ? loaded.stateVector : undefined
    const followed = this.stateVectors.get(name, seq)
    if (followed) return followed
    const read = this.docs.stateVector(name)
    if (read) this.stateVectors.set(name, seq, read)
    return read
  }
}
