import * as Y from 'yjs'
import { deleteSetDifference, type DeleteSet } from '../protocol/delete-set.js'

/**
 * The document as one update for its stored base, where the content of deleted structs is dropped unless it is
 * in `shown` — the ids retained versions show (see `shownBy`); with none, every deleted struct's, as Yjs's own
 * garbage collection does. `doc` keeps deleted content (gc off); the content dropped is dropped from it as well,
 * in place — a copy of a large document would cost its size again — and in a transaction that changes nothing a
 * client sees (its update is empty, so nobody is sent one). Its deletions all stay in the base.
 */
export function compactedBase(doc: Y.Doc, shown: DeleteSet): Uint8Array {
  const dropped = deleteSetDifference(Y.snapshot(doc).ds, shown)
  doc.transact((transaction) => {
    Y.iterateDeletedStructs(transaction, dropped, (struct) => {
      if (struct instanceof Y.Item && struct.deleted && !(struct.content instanceof Y.ContentDeleted)) struct.gc(doc.store, false)
    })
  })
  return Y.encodeStateAsUpdate(doc)
}

/** The ids some of the versions show: every struct under a version's state vector that its delete set keeps. */
export function shownBy(snapshots: readonly Y.Snapshot[]): DeleteSet {
  return Y.mergeDeleteSets(snapshots.map(visibleIn))
}

/** Both sets' ids, in a new set: Y.mergeDeleteSets lengthens its inputs' ranges in place, so it is given copies. */
export function unionOf(a: DeleteSet, b: DeleteSet): DeleteSet {
  return Y.mergeDeleteSets([copy(a), copy(b)])
}

function copy(ds: DeleteSet): DeleteSet {
  const copied = Y.createDeleteSet()
  for (const [client, ranges] of ds.clients) copied.clients.set(client, ranges.map(({ clock, len }) => ({ clock, len })) as never)
  return copied
}

function visibleIn(snapshot: Y.Snapshot): DeleteSet {
  const below = Y.createDeleteSet()
  for (const [client, clock] of snapshot.sv) if (clock > 0) below.clients.set(client, [{ clock: 0, len: clock }] as never)
  return deleteSetDifference(below, snapshot.ds)
}
