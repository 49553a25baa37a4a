import type { Logger } from 'pino'
import { guarded } from './boundaries.js'

export interface TurnQueueLimits {
  /** A turn of the event loop runs jobs until it has spent this long; the rest waits for the next turn. */
  budgetMs: number
  /**
   * Most bytes of input the waiting jobs may hold together; a job past it is refused — unless none waits, so
   * that a job larger than the bound (one very large document) still runs.
   */
  maxBytes: number
}

interface Job {
  run: () => void
  bytes: number
}

/**
 * Work that arrives faster than it can be done without stalling the node — the messages of a healing partition,
 * each about hundreds of documents, several of them in one socket read. Jobs run in the order they came, a
 * budget's worth per turn of the event loop, so that what the node serves meanwhile (client frames, Raft's
 * heartbeats, group commits) runs between two slices instead of waiting for all of them.
 */
export class TurnQueue {
  private jobs: (Job | undefined)[] = []
  private head = 0
  private heldBytes = 0
  private scheduled: NodeJS.Immediate | null = null

  constructor(
    private readonly limits: TurnQueueLimits,
    private readonly log: Logger,
  ) {}

  /** Jobs waiting. */
  get length(): number {
    return this.jobs.length - this.head
  }

  /** Queues `run`, which holds `bytes` of input until it runs; false (and not queued) if that would pass maxBytes. */
  push(run: () => void, bytes: number): boolean {
    if (this.length > 0 && this.heldBytes + bytes > this.limits.maxBytes) return false
    this.jobs.push({ run, bytes })
    this.heldBytes += bytes
    this.scheduled ??= setImmediate(() => this.runTurn())
    return true
  }

  /** Drops every waiting job. */
  close(): void {
    if (this.scheduled) clearImmediate(this.scheduled)
    this.scheduled = null
    this.jobs = []
    this.head = 0
    this.heldBytes = 0
  }

  /**
   * Runs as `scheduled`, which stays set meanwhile: jobs a job pushes wait for the turn scheduled at the end.
   * At least one job per turn, however long it takes.
   */
  private runTurn(): void {
    const deadline = performance.now() + this.limits.budgetMs
    do {
      const job = this.jobs[this.head]!
      this.jobs[this.head++] = undefined
      this.heldBytes -= job.bytes
      guarded(this.log, 'queued replication work', job.run)
    } while (this.length > 0 && performance.now() < deadline)
    if (this.length === 0) {
      this.scheduled = null
      this.jobs = []
      this.head = 0
      return
    }
    // Jobs keep coming while others wait: drop the slots already run rather than let the array grow without end.
    if (this.head > this.length) {
      this.jobs = this.jobs.slice(this.head)
      this.head = 0
    }
    this.scheduled = setImmediate(() => this.runTurn())
  }
}
