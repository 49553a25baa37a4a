import type { Database, RootDatabase } from 'lmdb'
import type { StoredState } from '../raft/core.js'
import type { Entry, HardState, Ready, Snapshot } from '../raft/types.js'

const hardStateKey = 'hard-state'
const snapshotKey = 'snapshot'

/** A read or write of the Raft storage failed (the disk, the LMDB environment): not a bug in what asked for it. */
export class RaftStorageError extends Error {
  constructor(what: string, cause: unknown) {
    super(`${what}: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'RaftStorageError'
  }
}

/** The Raft log, hard state and latest snapshot of this node, in the node's LMDB environment. */
export class RaftStorage {
  private readonly state: Database<HardState | Snapshot, string>
  private readonly log: Database<Entry, number>

  constructor(private readonly env: RootDatabase) {
    this.state = env.openDB<HardState | Snapshot, string>({ name: 'raft-state', encoding: 'msgpack' })
    this.log = env.openDB<Entry, number>({ name: 'raft-log', encoding: 'msgpack' })
  }

  /** True for a node that has never been part of a cluster. */
  isEmpty(): boolean {
    return this.state.get(hardStateKey) === undefined && this.state.get(snapshotKey) === undefined
  }

  load(): StoredState {
    const hardState = (this.state.get(hardStateKey) as HardState | undefined) ?? { term: 0, vote: null, commit: 0 }
    const snapshot = (this.state.get(snapshotKey) as Snapshot | undefined) ?? null
    const entries = [...this.log.getRange({ start: (snapshot?.index ?? 0) + 1 })].map(({ value }) => value)
    return { hardState, snapshot, entries }
  }

  /**
   * Writes what a Ready asks to persist, before any message that depends on it may be sent, in one
   * synchronous LMDB transaction. Raft writes are small and latency-bound: a synchronous commit costs one
   * fdatasync of the data file and a meta page written with O_DSYNC, in this thread, and is durable when
   * it returns (with overlappingSync too: that mode defers the flush of asynchronous transactions only).
   * An asynchronous transaction awaited until flushed would add two thread hand-offs to every write.
   */
  persist(ready: Pick<Ready, 'hardState' | 'entries' | 'snapshot' | 'snapshotReceived'>): void {
    if (!ready.hardState && ready.entries.length === 0 && !ready.snapshot) return
    try {
      this.write(ready)
    } catch (err) {
      throw new RaftStorageError('writing the raft log failed', err)
    }
  }

  private write(ready: Pick<Ready, 'hardState' | 'entries' | 'snapshot' | 'snapshotReceived'>): void {
    this.env.transactionSync(() => {
      if (ready.snapshot) {
        this.state.putSync(snapshotKey, ready.snapshot)
        // A snapshot from the leader replaces the whole log; one of our own folds only its prefix.
        this.removeEntries(0, ready.snapshotReceived ? Infinity : ready.snapshot.index)
      }
      if (ready.entries.length > 0) {
        this.removeEntries(ready.entries[0]!.index, Infinity)
        for (const entry of ready.entries) this.log.putSync(entry.index, entry)
      }
      if (ready.hardState) this.state.putSync(hardStateKey, ready.hardState)
    })
  }

  /** Stores a snapshot made by compaction and drops the entries it covers. */
  saveSnapshot(snapshot: Snapshot): void {
    this.persist({ hardState: null, entries: [], snapshot, snapshotReceived: false })
  }

  /** Writes the state a brand-new cluster starts from. */
  bootstrap(snapshot: Snapshot): void {
    this.persist({
      hardState: { term: snapshot.term, vote: null, commit: snapshot.index },
      entries: [],
      snapshot,
      snapshotReceived: true,
    })
  }

  private removeEntries(from: number, through: number): void {
    const range = through === Infinity ? { start: from } : { start: from, end: through + 1 }
    const keys = [...this.log.getKeys(range)]
    for (const key of keys) this.log.removeSync(key)
  }
}
