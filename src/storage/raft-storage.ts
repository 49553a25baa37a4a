import { existsSync, renameSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Database, RootDatabase } from 'lmdb'
import type { Entry, HardState, Ready, Snapshot, StoredState } from '../raft/types.js'
import { RaftWal, defaultRaftWalOptions, type RaftWalOptions, type TailRecovery } from './raft-wal/raft-wal.js'
import { storedStateFrom, WalCorruptError, type WalBatch } from './raft-wal/wal-batch.js'
import { syncDirectory } from './raft-wal/segment-file.js'

const snapshotKey = 'snapshot'
/** Where the log and hard state were kept before the WAL; read once, to move them into it. */
const legacyHardStateKey = 'hard-state'
const migratedEntriesPerRecord = 1_000

/** A read or write of the Raft storage failed (the disk, the LMDB environment): not a bug in what asked for it. */
export class RaftStorageError extends Error {
  constructor(what: string, cause: unknown) {
    super(`${what}: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'RaftStorageError'
  }
}

function attempt(what: string, write: () => unknown): void {
  try {
    write()
  } catch (err) {
    throw new RaftStorageError(what, err)
  }
}

/**
 * The Raft state of this node: the log and hard state in a write-ahead log of their own (`walDir`), the latest
 * snapshot in the node's LMDB environment. A snapshot is written to LMDB before the WAL records it, so the WAL
 * never names a snapshot LMDB lacks; `storedStateFrom` explains how the two are matched after a crash between.
 */
export class RaftStorage {
  private readonly state: Database<HardState | Snapshot, string>
  private readonly wal: RaftWal
  /** The state opening found, for the first load() if nothing was written since. */
  private opened: StoredState | null = null

  constructor(
    private readonly env: RootDatabase,
    walDir: string,
    walOptions: RaftWalOptions = defaultRaftWalOptions,
  ) {
    this.state = env.openDB<HardState | Snapshot, string>({ name: 'raft-state', encoding: 'msgpack' })
    if (!existsSync(walDir)) this.moveLogOutOfLmdb(walDir, walOptions)
    try {
      this.wal = RaftWal.open(walDir, walOptions)
      this.dropLegacyLog()
      const { state, repaired } = storedStateFrom(this.snapshot(), this.wal.replay())
      if (repaired) this.wal.append({ snapshot: repaired })
      else this.opened = state
    } catch (err) {
      if (!(err instanceof WalCorruptError)) throw err
      throw new WalCorruptError(
        `${err.message}. The Raft log of this node cannot be read: remove the node from the cluster, empty its data directory and join it again`,
      )
    }
  }

  /** Set when opening cut a torn record off the end of the WAL: the node crashed while writing it. */
  get recoveredTail(): TailRecovery | null {
    return this.wal.recovered
  }

  /** True for a node that has never been part of a cluster. */
  isEmpty(): boolean {
    return !this.wal.hasHardState() && this.snapshot() === null
  }

  load(): StoredState {
    const opened = this.opened
    this.opened = null
    return opened ?? storedStateFrom(this.snapshot(), this.wal.replay()).state
  }

  /**
   * Writes what a Ready asks to persist, before any message that depends on it may be sent: one WAL record,
   * one fdatasync, durable when this returns. A snapshot goes to LMDB first, in a synchronous transaction.
   */
  persist(ready: Pick<Ready, 'hardState' | 'entries' | 'snapshot' | 'snapshotReceived'>): void {
    if (!ready.hardState && ready.entries.length === 0 && !ready.snapshot) return
    this.opened = null
    const batch: WalBatch = {}
    if (ready.snapshot) {
      const snapshot = ready.snapshot
      attempt('writing the raft snapshot failed', () => this.env.transactionSync(() => this.state.putSync(snapshotKey, snapshot)))
      // A snapshot from the leader replaces the whole log; one of our own folds only its prefix.
      batch.snapshot = { index: snapshot.index, term: snapshot.term, reset: ready.snapshotReceived }
    }
    if (ready.entries.length > 0) batch.entries = ready.entries
    if (ready.hardState) batch.hardState = ready.hardState
    attempt('writing the raft log failed', () => this.wal.append(batch))
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

  close(): void {
    this.wal.close()
  }

  private snapshot(): Snapshot | null {
    return (this.state.get(snapshotKey) as Snapshot | undefined) ?? null
  }

  /**
   * A data directory from before the WAL keeps its log and hard state in LMDB. They are written into a new
   * WAL made aside and renamed into place, so that a crash leaves either no WAL (and the move runs again) or
   * the whole one; LMDB's copy is dropped once the WAL is in place.
   */
  private moveLogOutOfLmdb(walDir: string, walOptions: RaftWalOptions): void {
    const hardState = this.state.get(legacyHardStateKey) as HardState | undefined
    const entries = [...(this.legacyLog()?.getRange({}) ?? [])].map(({ value }) => value)
    if (!hardState && entries.length === 0) return
    const snapshot = this.snapshot()
    const madeAside = `${walDir}.tmp`
    rmSync(madeAside, { recursive: true, force: true })
    const wal = RaftWal.open(madeAside, walOptions)
    const kept = entries.filter((e) => e.index > (snapshot?.index ?? 0))
    if (snapshot) wal.append({ snapshot: { index: snapshot.index, term: snapshot.term, reset: false } })
    // In parts, so that no record comes near the WAL's largest.
    for (let i = 0; i < kept.length; i += migratedEntriesPerRecord) wal.append({ entries: kept.slice(i, i + migratedEntriesPerRecord) })
    if (hardState) wal.append({ hardState })
    wal.close()
    renameSync(madeAside, walDir)
    syncDirectory(dirname(walDir))
  }

  /** Drops what the move left in LMDB, the log's database itself included. */
  private dropLegacyLog(): void {
    const log = this.legacyLog()
    if (this.state.get(legacyHardStateKey) === undefined && !log) return
    this.env.transactionSync(() => {
      this.state.removeSync(legacyHardStateKey)
      log?.dropSync()
    })
  }

  /**
   * LMDB's Raft log from before the WAL; undefined if there is none. Looking must not create it: lmdb-js takes
   * `create: false` (and then answers undefined for a database that does not exist), its types do not.
   */
  private legacyLog(): Database<Entry, number> | undefined {
    const options = { name: 'raft-log', encoding: 'msgpack', create: false } as const
    return this.env.openDB<Entry, number>(options) as Database<Entry, number> | undefined
  }
}
