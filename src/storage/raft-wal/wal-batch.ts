import { Packr } from 'msgpackr'
import type { Entry, HardState, Snapshot, StoredState } from '../../raft/types.js'
import { DataDirError } from '../../control/data-dir-error.js'

/**
 * What one WAL record holds: everything one Ready asks to persist, so that a Ready is on disk whole or not
 * at all. Applied in this order: the snapshot mark, then the entries, then the hard state.
 */
export interface WalBatch {
  /**
   * A snapshot (kept in LMDB) now covers the log through `index`: entries up to it are dropped and, with
   * `reset` (a snapshot from the leader), every entry after it too.
   */
  snapshot?: SnapshotMark
  /** Replace the entries stored from the first one's index on. */
  entries?: Entry[]
  hardState?: HardState
}

export interface SnapshotMark {
  index: number
  term: number
  reset: boolean
}

/** The WAL's bytes do not make sense: damage that a torn tail does not explain, or a bug. The operator's to fix. */
export class WalCorruptError extends DataDirError {
  override name = 'WalCorruptError'
}

const packr = new Packr({ useRecords: false, moreTypes: false })

export function encodeWalBatch(batch: WalBatch): Uint8Array {
  return packr.pack(batch)
}

/** Decodes a record whose CRC passed: a shape other than a batch is a bug or another format, not a torn write. */
export function decodeWalBatch(payload: Uint8Array): WalBatch {
  let batch: WalBatch | null
  try {
    batch = packr.unpack(payload) as WalBatch | null
  } catch (err) {
    throw new WalCorruptError(`a WAL record does not decode: ${(err as Error).message}`)
  }
  if (batch === null || typeof batch !== 'object') throw new WalCorruptError('a WAL record is not a batch')
  const { snapshot, entries, hardState } = batch
  if (snapshot !== undefined && !(snapshot !== null && isIndex(snapshot.index) && isIndex(snapshot.term) && typeof snapshot.reset === 'boolean')) {
    throw new WalCorruptError('a WAL record has a malformed snapshot mark')
  }
  if (entries !== undefined && !(Array.isArray(entries) && entries.every((e) => isIndex(e?.index) && isIndex(e.term)))) {
    throw new WalCorruptError('a WAL record has malformed entries')
  }
  if (
    hardState !== undefined &&
    !(hardState !== null && isIndex(hardState.term) && isIndex(hardState.commit) && (hardState.vote === null || typeof hardState.vote === 'string'))
  ) {
    throw new WalCorruptError('a WAL record has a malformed hard state')
  }
  return batch
}

function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

/**
 * A batch too large for one record as two that, appended in order, leave the log and hard state as it does;
 * null for one that holds fewer than two entries. The snapshot mark and the hard state go with the first part,
 * so that term and vote are durable before any entry of that term. A crash between the two leaves a prefix of
 * the entries, as a Ready that was never acknowledged may; opening clamps the commit index to the log left
 * (storedStateFrom).
 */
export function splitBatch(batch: WalBatch): [WalBatch, WalBatch] | null {
  const { snapshot, entries, hardState } = batch
  if (!entries || entries.length < 2) return null
  const half = Math.ceil(entries.length / 2)
  return [
    { ...(snapshot && { snapshot }), entries: entries.slice(0, half), ...(hardState && { hardState }) },
    { entries: entries.slice(half) },
  ]
}

/** The log as the WAL's batches leave it, before it is matched with the snapshot in LMDB. */
export interface WalReplay {
  mark: SnapshotMark | null
  entries: Entry[]
  hardState: HardState | null
}

export function emptyReplay(): WalReplay {
  return { mark: null, entries: [], hardState: null }
}

/**
 * Applies one batch to a replay, as storage applies it, in time proportional to the batch: the entries are kept
 * contiguous, so an index is a position. They may start past the mark (once old segments are removed, until a
 * later mark covers them); the log as a whole is checked against the snapshot in storedStateFrom.
 */
export function replayBatch(replay: WalReplay, batch: WalBatch): void {
  const { entries } = replay
  if (batch.snapshot) {
    const mark = batch.snapshot
    replay.mark = mark
    if (mark.reset) entries.length = 0
    else entries.splice(0, positionOf(entries, mark.index + 1))
  }
  if (batch.entries && batch.entries.length > 0) {
    const first = batch.entries[0]!.index
    const last = entries.at(-1)?.index
    if (last !== undefined && first > last + 1) throw new WalCorruptError(`the WAL has entry ${first} right after entry ${last}`)
    entries.length = positionOf(entries, first)
    for (const entry of batch.entries) entries.push(entry)
  }
  if (batch.hardState) replay.hardState = batch.hardState
}

/** Where entry `index` is, or would go, in contiguous `entries`. */
function positionOf(entries: readonly Entry[], index: number): number {
  if (entries.length === 0) return 0
  return Math.min(Math.max(index - entries[0]!.index, 0), entries.length)
}

/**
 * Matches the WAL's log with the snapshot in LMDB, which is written first. The WAL's entries after the
 * snapshot are the log when the WAL knows that snapshot (its mark, or its entry at the snapshot's index
 * with the snapshot's term: a crash between the two writes of a compaction). Otherwise the snapshot came
 * from the leader and the crash came before the WAL's mark: the entries it holds conflict with the
 * committed entry at the snapshot's index, or end before it, so none of them after it can be committed,
 * and the snapshot replaces them all — as it would have. `repaired` says the WAL needs that mark now.
 */
export function storedStateFrom(snapshot: Snapshot | null, replay: WalReplay): { state: StoredState; repaired: SnapshotMark | null } {
  const base = { index: snapshot?.index ?? 0, term: snapshot?.term ?? 0 }
  if (replay.mark && replay.mark.index > base.index) {
    throw new WalCorruptError(`the WAL marks a snapshot at ${replay.mark.index}, but the stored snapshot is at ${base.index}`)
  }
  const known =
    base.index === 0 ||
    (replay.mark?.index === base.index && replay.mark.term === base.term) ||
    replay.entries.some((e) => e.index === base.index && e.term === base.term)
  const entries = known ? replay.entries.filter((e) => e.index > base.index) : []
  const gap = entries.findIndex((e, i) => e.index !== base.index + 1 + i)
  if (gap !== -1) throw new WalCorruptError(`the WAL has entry ${entries[gap]!.index} where entry ${base.index + 1 + gap} belongs`)
  const stored = replay.hardState ?? { term: 0, vote: null, commit: 0 }
  // The commit index is a hint (the leader tells it again); it cannot point past the log that is left.
  const hardState = { ...stored, commit: Math.min(stored.commit, base.index + entries.length) }
  return {
    state: { hardState, snapshot, entries },
    repaired: known ? null : { index: base.index, term: base.term, reset: true },
  }
}
