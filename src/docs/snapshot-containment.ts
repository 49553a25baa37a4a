import * as Y from 'yjs'

/**
 * Whether a document at `outer` holds everything a document at `inner` holds: every struct `inner`'s state
 * vector counts and every deletion in its delete set. (Yjs's own snapshotContainsUpdate asks the same of an
 * update.) `outer` must be a snapshot as Yjs makes one, its delete set sorted and merged.
 */
export function snapshotContains(outer: Y.Snapshot, inner: Y.Snapshot): boolean {
  for (const [client, clock] of inner.sv) {
    if ((outer.sv.get(client) ?? 0) < clock) return false
  }
  return Y.equalDeleteSets(outer.ds, Y.mergeDeleteSets([outer.ds, inner.ds]))
}
