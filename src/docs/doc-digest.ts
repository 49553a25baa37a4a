import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import { digestBytes } from '../protocol/range-codec.js'

/**
 * The document's encoded Yjs snapshot — its delete set and state vector — and a hash of it. Yjs writes both
 * in a canonical order, and merges runs of deleted structs, so two replicas with the same content have the
 * same digest however their structs happen to be split. A state vector alone would not move when something
 * is deleted.
 */
export function docDigest(doc: Y.Doc): { digest: Uint8Array; snapshot: Uint8Array } {
  const snapshot = Y.encodeSnapshot(Y.snapshot(doc))
  return { digest: new Uint8Array(createHash('sha256').update(snapshot).digest().subarray(0, digestBytes)), snapshot }
}
