import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import { digestBytes } from '../protocol/range-codec.js'

/**
 * A hash of the document's state vector and delete set. Yjs writes both in a canonical order, and merges
 * runs of deleted structs, so two replicas with the same content have the same digest however their
 * structs happen to be split. A state vector alone would not move when something is deleted.
 */
export function docDigest(doc: Y.Doc): Uint8Array {
  const snapshot = Y.encodeSnapshot(Y.snapshot(doc))
  return new Uint8Array(createHash('sha256').update(snapshot).digest().subarray(0, digestBytes))
}
