import * as Y from 'yjs'
import { deleteSetDifference, type DeleteSet } from '../protocol/delete-set.js'

/**
 * The document as one update for its stored base, where the content of deleted structs is dropped unless a
 * `retained` version shows it (with none retained, every deleted struct's, as Yjs's own garbage collection does).
 * `doc` keeps deleted content (gc off); the content dropped is dropped from it as well, in place — a copy of a
 * large document would cost its size again — and in a transaction that changes nothing a client sees (its update
 * is empty, so nobody is sent one). Its deletions all stay in the base.
 */
export function compactedBase(doc: Y.Doc, retained: readonly Y.Snapshot[]): Uint8Array {
  const dropped = deleteSetDifference(Y.snapshot(doc).ds, Y.mergeDeleteSets(retained.map(visibleIn)))
  doc.transact((transaction) => {
    Y.iterateDeletedStructs(transaction, dropped, (struct) => {
      if (struct instanceof Y.Item && struct.deleted && !(struct.content instanceof Y.ContentDeleted)) struct.gc(doc.store, false)
    })
  })
  return Y.encodeStateAsUpdate(doc)
}

/** The ids a version shows: every struct under its state vector that its delete set does not delete. */
function visibleIn(snapshot: Y.Snapshot): DeleteSet {
  const below = Y.createDeleteSet()
  for (const [client, clock] of snapshot.sv) if (clock > 0) below.clients.set(client, [{ clock: 0, len: clock }] as never)
  return deleteSetDifference(below, snapshot.ds)
}
