import { randomBytes } from 'node:crypto'
import type { Database, RootDatabase } from 'lmdb'

/** One entry of a node's change feed, as stored. */
export interface StoredChange {
  type: 'updated' | 'deleted'
  name: string
  timeMs: number
  /** Stored size of the document after the change; 0 for a deletion. */
  bytes: number
  /** The document's Yjs state vector after the change; absent for a deletion. */
  stateVector?: Uint8Array
}

/** A change log's id: 8 hex digits, new for every log (see ChangeLogStorage.logId). */
export const newChangeLogId = (): string => randomBytes(4).toString('hex')

const deletionsKey = 'deletions-recorded-after'

/** The mark of a deleted document (a write's mark is the meta `nextSeq` it left, never 0). */
export const deletedMark = 0

/**
 * The node's change feed on disk: events in the order they were recorded, numbered from 1 without reuse, and
 * the documents changed since their last event. A document's write or removal marks it in its own transaction,
 * so a change made durable is never left without an event: the marks outlive a crash and are recorded on the
 * next start. Only the recorder (changes/change-recorder.ts) appends events.
 */
export class ChangeLogStorage {
  private readonly events: Database<StoredChange, number>
  /** Document name → the meta `nextSeq` the write that marked it left, or `deletedMark`. */
  private readonly marks: Database<number, string>
  private readonly info: Database<string, string>
  /** Identifies this log among every node's: a cursor of another log (or of this data directory before it was wiped) is not one of it. */
  readonly logId: string
  private nextEventSeq: number

  constructor(env: RootDatabase) {
    this.events = env.openDB<StoredChange, number>({ name: 'change-log', encoding: 'msgpack' })
    this.marks = env.openDB<number, string>({ name: 'change-marks', encoding: 'msgpack' })
    this.info = env.openDB<string, string>({ name: 'change-info', encoding: 'string' })
    let logId = this.info.get('log-id')
    if (logId === undefined) {
      logId = newChangeLogId()
      this.info.putSync('log-id', logId)
    }
    this.logId = logId
    this.nextEventSeq = (this.lastSeq() ?? 0) + 1
  }

  /** Inside a write transaction: `name` changed, and its write left meta `nextSeq` at `mark` (or it was removed: `deletedMark`). */
  mark(name: string, mark: number): void {
    this.marks.putSync(name, mark)
  }

  /**
   * Inside a write transaction: the document `name` is removed, deleted by the cluster at log index
   * `deletedAt` (when known). Its deletion gets an event if the document was held here, and also if it was not,
   * once, when it was committed after `recordDeletionsAfter`: the node that sends a webhook's events may be one
   * that never held the document (it was deleted before it got there), and it must still tell of the deletion
   * that other nodes recorded. A deletion at or before the last one recorded is the log replayed after a restart.
   */
  markRemoved(name: string, held: boolean, deletedAt: number | undefined): void {
    const after = this.deletionsRecordedAfter()
    const recordable = deletedAt !== undefined && after !== undefined && deletedAt > after
    if (held || recordable) this.mark(name, deletedMark)
    if (recordable) this.info.putSync(deletionsKey, String(deletedAt))
  }

  /**
   * From now on, deletions committed after log index `index` are recorded whether or not the document was held
   * here: call it once the node is a member. Deletions committed before (a joiner replaying the log of the
   * cluster it joins) are history it was not part of. Only the first call counts.
   */
  recordDeletionsAfter(index: number): void {
    if (this.deletionsRecordedAfter() === undefined) this.info.putSync(deletionsKey, String(index))
  }

  /** The log index after which deletions are recorded, undefined before the node was a member. */
  deletionsRecordedAfter(): number | undefined {
    const value = this.info.get(deletionsKey)
    return value === undefined ? undefined : Number(value)
  }

  /** Documents changed since their last event, each with its mark. */
  marked(): { name: string; mark: number }[] {
    return [...this.marks.getRange({})].map(({ key, value }) => ({ name: key, mark: value }))
  }

  markOf(name: string): number | undefined {
    return this.marks.get(name)
  }

  /**
   * Inside a write transaction: appends `change`, and unmarks its document if its mark is still `mark` — a later
   * write or removal marked it anew, and the next event carries that. Returns the event's seq.
   */
  append(change: StoredChange, mark: number): number {
    const eventSeq = this.nextEventSeq++
    this.events.putSync(eventSeq, change)
    if (this.marks.get(change.name) === mark) this.marks.removeSync(change.name)
    return eventSeq
  }

  /** Events after `afterSeq`, in order, at most `limit`. */
  *read(afterSeq: number, limit: number): Generator<{ seq: number; change: StoredChange }> {
    for (const { key, value } of this.events.getRange({ start: afterSeq + 1, limit })) yield { seq: key, change: value }
  }

  firstSeq(): number | undefined {
    for (const key of this.events.getKeys({ limit: 1 })) return key
    return undefined
  }

  /** The newest event recorded before `timeMs` (0 when there is none), looking back from the newest. */
  seqBefore(timeMs: number): number {
    for (const { key, value } of this.events.getRange({ reverse: true })) if (value.timeMs < timeMs) return key
    return 0
  }

  private lastSeq(): number | undefined {
    for (const key of this.events.getKeys({ reverse: true, limit: 1 })) return key
    return undefined
  }

  /** The seq of the latest event recorded or about to be, 0 before the first. */
  get headSeq(): number {
    return this.nextEventSeq - 1
  }

  /**
   * Inside a write transaction: removes, oldest first and at most `maxRemoved` of them, events older than
   * `beforeMs` or beyond the newest `keepEvents`. Returns how many it removed.
   */
  prune(beforeMs: number, keepEvents: number, maxRemoved: number): number {
    const keepFrom = this.nextEventSeq - keepEvents
    let removed = 0
    for (const { key, value } of this.events.getRange({ limit: maxRemoved })) {
      if (key >= keepFrom && value.timeMs >= beforeMs) break
      this.events.removeSync(key)
      removed++
    }
    return removed
  }
}
