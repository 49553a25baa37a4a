import * as Y from 'yjs'
import type { Logger } from 'pino'
import { itemHash } from '../replication/item-hash.js'
import type { DocMeta, DocStorage, DocSummary, KeptDigest } from '../storage/doc-storage.js'
import type { DocCache } from './doc-cache.js'
import { docDigest } from './doc-digest.js'
import { buildDoc, readStoredUpdates } from './stored-updates.js'

/**
 * Each document's digest and Yjs snapshot (see doc-digest.ts), kept in storage until the document changes, so
 * that only changed documents are ever loaded to compute them. A summary computed between two commits is
 * written with the next one (`takeDue`).
 */
export class DocSummaries {
  private due = new Map<string, DocSummary>()

  constructor(
    private readonly storage: DocStorage,
    private readonly cache: DocCache,
    private readonly log: Logger,
    /** Called when a summary is made and becomes due, so that a commit writes it. */
    private readonly onDue: (name: string, summary: DocSummary) => void,
  ) {}

  /** The document's digest with its item hash; undefined if it was never written. */
  digest(name: string): KeptDigest | undefined {
    const kept = this.current(name)
    if (kept) return kept
    const entry = this.cache.get(name)
    if (entry) return this.summarize(name, entry.doc, entry.seq)
    const stored = readStoredUpdates(this.storage, name)
    if (!stored) return undefined
    const doc = buildDoc(name, stored.updates, this.log)
    try {
      return this.summarize(name, doc, stored.meta.nextSeq)
    } finally {
      doc.destroy()
    }
  }

  /** The snapshot of the kept digest, if the document (in memory and stored) has not changed since it was made. */
  currentSnapshot(name: string): Uint8Array | undefined {
    return this.current(name) && this.storage.getSnapshot(name)
  }

  /**
   * Whether the latest summary holds everything in `update` (see DocStore.holds). One made before the latest
   * changes still answers: a Yjs document only ever gains structs and deletions.
   */
  holds(name: string, update: Uint8Array): boolean {
    const snapshot = this.latestSnapshot(name)
    if (snapshot === undefined) return false
    try {
      return Y.snapshotContainsUpdate(Y.decodeSnapshot(snapshot), update)
    } catch {
      return false
    }
  }

  /** The snapshot of the latest summary, current or not: what the document holds at least. */
  latestSnapshot(name: string): Uint8Array | undefined {
    return this.due.get(name)?.snapshot ?? this.storage.getSnapshot(name)
  }

  /** Every stored document's name and its kept digest, if still valid, in name order. */
  *storedDigests(): Generator<{ name: string; kept: KeptDigest | undefined }> {
    for (const { name, meta } of this.storage.list('', undefined)) yield { name, kept: isCurrent(meta) ? meta.digest : undefined }
  }

  get hasDue(): boolean {
    return this.due.size > 0
  }

  /** The summaries due, for the commit about to start; later ones wait for the next. */
  takeDue(): Map<string, DocSummary> {
    const due = this.due
    this.due = new Map()
    return due
  }

  /** Forgets a due summary of a document being deleted. */
  forget(name: string): void {
    this.due.delete(name)
  }

  /** Computes the summary of `doc`, stored at `seq`, and keeps it with the next commit. */
  private summarize(name: string, doc: Y.Doc, seq: number): DocSummary {
    const { digest, snapshot } = docDigest(doc)
    const summary = { seq, digest, itemHash: itemHash(name, digest), snapshot }
    this.due.set(name, summary)
    this.onDue(name, summary)
    return summary
  }

  /** The kept digest, if the document (in memory and stored) has not changed since it was made. */
  private current(name: string): KeptDigest | undefined {
    const meta = this.storage.getMeta(name)
    if (!meta || !isCurrent(meta)) return undefined
    const entry = this.cache.get(name)
    return !entry || entry.seq === meta.nextSeq ? meta.digest : undefined
  }
}

/** Whether the meta's digest describes the document as stored. */
function isCurrent(meta: DocMeta): meta is DocMeta & { digest: KeptDigest } {
  return meta.digest !== undefined && meta.digest.seq === meta.nextSeq
}
