import { open, type RootDatabase } from 'lmdb'
import * as Y from 'yjs'
import type { DocPersistence } from './sync-client.js'

/** Updates kept per document before loading folds them into one. */
const foldAfterUpdates = 100

/**
 * Offline copies of documents in an LMDB file (Node): every update a document sees, local or from the
 * server, is kept, so that edits made offline survive a restart and merge once a node is reachable again.
 */
export class LmdbPersistence implements DocPersistence {
  private readonly db: RootDatabase<Uint8Array, [string, number]>

  constructor(dir: string) {
    this.db = open<Uint8Array, [string, number]>({ path: dir, encoding: 'binary' })
  }

  /** Applies the kept copy of `name` to `doc`, then keeps every later update of `doc`; returns what stops that. */
  attach(name: string, doc: Y.Doc): () => void {
    const kept = [...this.db.getRange({ start: [name, 0], end: [name, Number.MAX_SAFE_INTEGER] })]
    let next = kept.length === 0 ? 0 : kept[kept.length - 1]!.key[1] + 1
    if (kept.length > 0) Y.applyUpdate(doc, Y.mergeUpdates(kept.map((entry) => entry.value)), this)
    if (kept.length > foldAfterUpdates) {
      const whole = Y.encodeStateAsUpdate(doc)
      const folded = next++
      void this.db.transaction(() => {
        for (const entry of kept) this.db.removeSync(entry.key)
        this.db.putSync([name, folded], whole)
      })
    }
    const keep = (update: Uint8Array, origin: unknown) => {
      if (origin !== this) void this.db.put([name, next++], update)
    }
    doc.on('update', keep)
    return () => doc.off('update', keep)
  }

  /** Waits until every kept update is on disk, then closes the file. */
  async close(): Promise<void> {
    await this.db.flushed
    await this.db.close()
  }
}
