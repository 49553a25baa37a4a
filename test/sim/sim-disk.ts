import type { Ready, Snapshot, StoredState } from '../../src/raft/types.js'

/** A simulated (fake) disk, for deterministic simulation only: what a node's RaftStorage holds, as RaftCore loads it. */
export type SimDisk = StoredState

/**
 * Writes a Ready's snapshot and entries as RaftStorage does: a received snapshot replaces the whole log; an entry
 * replaces the one stored at its index and every one after it. The hard state is the caller's to write, as planReady says.
 */
export function writeSnapshotAndEntries(disk: SimDisk, ready: Pick<Ready, 'snapshot' | 'snapshotReceived' | 'entries'>): void {
  const { snapshot, entries } = ready
  if (snapshot) {
    disk.snapshot = snapshot
    disk.entries = ready.snapshotReceived ? [] : disk.entries.filter((e) => e.index > snapshot.index)
  }
  if (entries.length > 0) {
    const first = entries[0]!.index
    disk.entries = disk.entries.filter((e) => e.index < first).concat(structuredClone(entries))
  }
}

/** Keeps a node's own snapshot in place of the entries it covers (RaftStorage.saveSnapshot). */
export function saveOwnSnapshot(disk: SimDisk, snapshot: Snapshot): void {
  disk.snapshot = snapshot
  disk.entries = disk.entries.filter((e) => e.index > snapshot.index)
}
