import type { Entry } from './types.js'

export class RaftInvariantError extends Error {
  override name = 'RaftInvariantError'
}

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new RaftInvariantError(message)
}

/**
 * The in-memory Raft log: entries after the last snapshot, plus the commit and apply cursors.
 * `unstableFrom` is the first index not yet handed to the driver for persistence.
 */
export class RaftLog {
  /** Index and term of the last entry folded into the snapshot (0, 0 for none). */
  private snapshotIndex: number
  private snapshotTerm: number
  private entries: Entry[]
  committed: number
  /** Last index handed to the driver for applying. */
  applied: number
  private unstableFrom: number

  constructor(snapshotIndex: number, snapshotTerm: number, entries: Entry[], committed: number) {
    this.snapshotIndex = snapshotIndex
    this.snapshotTerm = snapshotTerm
    this.entries = entries
    invariant(
      entries.every((e, i) => e.index === snapshotIndex + 1 + i),
      'stored entries must follow the snapshot without gaps',
    )
    this.committed = Math.max(committed, snapshotIndex)
    invariant(this.committed <= this.lastIndex(), `commit ${committed} is past the last index ${this.lastIndex()}`)
    this.applied = snapshotIndex
    this.unstableFrom = this.lastIndex() + 1
  }

  firstIndex(): number {
    return this.snapshotIndex + 1
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length
  }

  lastTerm(): number {
    return this.term(this.lastIndex())!
  }

  /** The term of entry `index`, or undefined when it was compacted away or does not exist. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined
    return this.entries[index - this.snapshotIndex - 1]!.term
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term
  }

  /** §5.4.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm()
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex())
  }

  /** Entries from `from` on, at most `maxEntries`; undefined if `from` was compacted away. */
  slice(from: number, maxEntries: number): Entry[] | undefined {
    if (from <= this.snapshotIndex) return undefined
    const start = from - this.snapshotIndex - 1
    return this.entries.slice(start, start + maxEntries)
  }

  /** Appends entries that start at or before lastIndex + 1, dropping any stored entries they replace. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return
    const first = entries[0]!.index
    invariant(first > this.committed, `cannot overwrite committed entry ${first} (commit ${this.committed})`)
    invariant(first <= this.lastIndex() + 1, `gap before entry ${first} (last ${this.lastIndex()})`)
    this.entries.length = first - this.snapshotIndex - 1
    this.entries.push(...entries)
    this.unstableFrom = Math.min(this.unstableFrom, first)
  }

  /**
   * The follower side of AppendEntries (§5.3): if our log holds (prevIndex, prevTerm), append what is
   * new, cut off anything that conflicts, advance the commit index, and return the index of the last
   * new entry; otherwise null.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null
    const lastNew = prevIndex + entries.length
    const conflict = entries.findIndex((e) => !this.matchTerm(e.index, e.term))
    if (conflict !== -1) this.append(entries.slice(conflict))
    this.commitTo(Math.min(commit, lastNew))
    return lastNew
  }

  /**
   * For a rejected AppendEntries: the largest index ≤ `index` whose term is ≤ `term`, so that the leader
   * can skip a whole conflicting term in one round trip.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex())
    while (i > this.snapshotIndex) {
      if (this.term(i)! <= term) break
      i--
    }
    return i
  }

  commitTo(index: number): void {
    if (index <= this.committed) return
    invariant(index <= this.lastIndex(), `commit ${index} is past the last index ${this.lastIndex()}`)
    this.committed = index
  }

  /** Committed entries not yet handed out for applying; marks them handed out. */
  takeCommitted(): Entry[] {
    if (this.applied >= this.committed) return []
    const taken = this.slice(this.applied + 1, this.committed - this.applied)!
    this.applied = this.committed
    return taken
  }

  /** Every entry before this index has been handed to the driver for persistence. */
  firstUnstableIndex(): number {
    return Math.min(this.unstableFrom, this.lastIndex() + 1)
  }

  hasUnstable(): boolean {
    return this.unstableFrom <= this.lastIndex()
  }

  /** Entries not yet handed out for persistence; marks them handed out. */
  takeUnstable(): Entry[] {
    if (this.unstableFrom > this.lastIndex()) return []
    const taken = this.slice(this.unstableFrom, this.lastIndex() - this.unstableFrom + 1)!
    this.unstableFrom = this.lastIndex() + 1
    return taken
  }

  /** Replaces the whole log by a snapshot received from the leader. */
  restore(index: number, term: number): void {
    this.snapshotIndex = index
    this.snapshotTerm = term
    this.entries = []
    this.committed = index
    this.applied = index
    this.unstableFrom = index + 1
  }

  /** Drops the entries up to `index`, which the application has folded into a snapshot. */
  compact(index: number): void {
    invariant(index <= this.applied, `cannot compact past the applied index (${index} > ${this.applied})`)
    if (index <= this.snapshotIndex) return
    const term = this.term(index)!
    this.entries = this.entries.slice(index - this.snapshotIndex)
    this.snapshotIndex = index
    this.snapshotTerm = term
  }
}
