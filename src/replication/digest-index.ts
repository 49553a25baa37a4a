import type { DocStore } from '../docs/doc-store.js'
import { ItemSet, compareNames } from './item-set.js'

/** Digests are brought up to date once commits have paused this long (and at every reconciliation). */
const quietMs = 100

/**
 * Every stored document with its digest, as the set that anti-entropy reconciles. Digests are brought up to
 * date lazily: a commit only marks its document, and `refresh` computes the digests of the marked ones (a
 * digest costs a walk over the document's structs, too much for every commit of a busy document). Besides
 * every reconciliation, a refresh runs once commits pause, so that a burst of changes to a document —
 * a healing partition delivers several to each — costs one digest, not one per change.
 */
export class DigestIndex {
  readonly items = new ItemSet()
  private readonly stale = new Set<string>()
  private quietTimer: NodeJS.Timeout | null = null

  constructor(private readonly docs: DocStore) {
    for (const { name, digest } of docs.storedDigests()) {
      if (digest) this.items.set(name, digest)
      else this.stale.add(name)
    }
    docs.on({
      committed: (name) => {
        this.stale.add(name)
        this.refreshWhenQuiet()
      },
      deleted: (name) => {
        this.stale.delete(name)
        this.items.delete(name)
      },
    })
  }

  /** Documents whose digest is out of date. */
  get staleCount(): number {
    return this.stale.size
  }

  close(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer)
  }

  /** Computes the digests of documents changed since the last call; returns how many it computed. */
  refresh(): number {
    // In name order: many new documents then go in at the end of the sorted set, not each in the middle.
    const names = [...this.stale].sort(compareNames)
    this.stale.clear()
    for (const name of names) {
      const digest = this.docs.digest(name)
      if (digest) this.items.set(name, digest)
      else this.items.delete(name)
    }
    return names.length
  }

  private refreshWhenQuiet(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer)
    this.quietTimer = setTimeout(() => {
      this.quietTimer = null
      this.refresh()
    }, quietMs)
    this.quietTimer.unref()
  }
}
