import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { DocMeta, DocStorage } from '../storage/doc-storage.js'

/** A document's stored updates, the compacted base first and then the log in order; undefined if it was never written. */
export function readStoredUpdates(storage: DocStorage, name: string): { updates: Uint8Array[]; meta: DocMeta } | undefined {
  const stored = storage.read(name)
  if (!stored) return undefined
  return { updates: stored.base ? [stored.base, ...stored.log] : stored.log, meta: stored.meta }
}

/** Bound on the stored log size for which a cold read merges updates instead of building a Y.Doc. */
const maxUpdatesToMerge = 256

/** A document that is not loaded, as one update merged from what is stored; undefined if it was never written. */
export function readStoredUpdate(storage: DocStorage, name: string, log: Logger): Uint8Array | undefined {
  const stored = readStoredUpdates(storage, name)
  if (!stored) return undefined
  const { updates } = stored
  if (updates.length === 1) return updates[0]!
  if (updates.length <= maxUpdatesToMerge) {
    try {
      return Y.mergeUpdates(updates)
    } catch (err) {
      // A damaged record (one stored before validation read the structs): building a doc skips it.
      log.error({ err, doc: name }, 'stored updates could not be merged; reading them one by one')
    }
  }
  const doc = buildDoc(name, updates, log)
  try {
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}

/**
 * A Y.Doc for the server's own use. Its guid is the document name: a new Y.Doc otherwise draws a random
 * UUID, 31 calls to crypto.getRandomValues, which made up most of the cost of loading a small document.
 * Garbage collection is off: deleted content is what versions show (history/), and only compaction drops what
 * no retained version needs (compacted-base.ts).
 */
export function serverDoc(name: string): Y.Doc {
  return new Y.Doc({ guid: name, gc: false })
}

/** A document holding `updates`, applied in one transaction. */
export function buildDoc(name: string, updates: readonly Uint8Array[], log: Logger): Y.Doc {
  const doc = serverDoc(name)
  doc.transact(() => {
    for (const update of updates) {
      try {
        Y.applyUpdate(doc, update)
      } catch (err) {
        // Updates are validated before they are stored, so this means a damaged record; keep the rest readable.
        log.error({ err, doc: name }, 'stored update could not be applied; skipped')
      }
    }
  })
  return doc
}
