import type * as Y from 'yjs'
import type { Metrics } from '../metrics.js'

/** A document held open by a user (a sync room); the Y.Doc stays in memory until every handle is released. */
export interface DocHandle {
  readonly name: string
  readonly doc: Y.Doc
  release(): void
}

export interface LoadedDoc {
  doc: Y.Doc
  /** The stored `nextSeq` that `doc` is in step with. */
  seq: number
  handles: number
  /** Approximate memory cost: stored bytes at load plus bytes applied since. */
  bytes: number
  lastUsedMs: number
}

export interface DocCacheLimits {
  /** Bytes of idle documents (no handle open) kept in memory; beyond it the least recently used go. */
  idleCacheBytes: number
  /** An idle document is dropped from memory after this long without use. */
  idleEvictMs: number
}

/** What loading a document from storage gives the cache: the document, its stored `nextSeq` and stored bytes. */
export type LoadDoc = (name: string) => { doc: Y.Doc; seq: number; bytes: number }

/**
 * The documents held in memory: those with an open handle, and idle ones until they pass the idle time or
 * the idle bytes budget (least recently used first).
 */
export class DocCache {
  private readonly loaded = new Map<string, LoadedDoc>()
  /** Sum of `bytes` over loaded documents with no open handle. */
  private idleBytes = 0
  private readonly sweepTimer: NodeJS.Timeout

  constructor(
    private readonly load: LoadDoc,
    private readonly metrics: Metrics,
    private readonly limits: DocCacheLimits,
  ) {
    this.sweepTimer = setInterval(() => this.evictIdle(Date.now()), Math.max(1_000, limits.idleEvictMs / 2))
    this.sweepTimer.unref()
  }

  get(name: string): LoadedDoc | undefined {
    return this.loaded.get(name)
  }

  get size(): number {
    return this.loaded.size
  }

  /** Opens a document for a long-lived user, loading it if it is not in memory. */
  open(name: string): DocHandle {
    const entry = this.loadedEntry(name)
    if (entry.handles++ === 0) this.idleBytes -= entry.bytes
    let released = false
    return {
      name,
      doc: entry.doc,
      release: () => {
        if (released) return
        released = true
        if (--entry.handles === 0) this.idleBytes += entry.bytes
        entry.lastUsedMs = Date.now()
        if (this.idleBytes > this.limits.idleCacheBytes) this.evictOverBudget()
      },
    }
  }

  /** Records the memory cost of `entry` after it changed. */
  resize(entry: LoadedDoc, bytes: number): void {
    if (entry.handles === 0) this.idleBytes += bytes - entry.bytes
    entry.bytes = bytes
  }

  /** Drops the document from memory, if it is loaded, whatever handles are open. */
  drop(name: string): void {
    const entry = this.loaded.get(name)
    if (entry) this.evict(name, entry)
  }

  /** Drops every document and stops the idle sweep. */
  close(): void {
    clearInterval(this.sweepTimer)
    for (const entry of this.loaded.values()) entry.doc.destroy()
    this.loaded.clear()
    this.idleBytes = 0
    this.metrics.loadedDocs.set(0)
  }

  private loadedEntry(name: string): LoadedDoc {
    let entry = this.loaded.get(name)
    if (!entry) {
      const { doc, seq, bytes } = this.load(name)
      entry = { doc, seq, handles: 0, bytes: 0, lastUsedMs: 0 }
      this.loaded.set(name, entry)
      this.resize(entry, bytes)
      this.metrics.loadedDocs.set(this.loaded.size)
    }
    entry.lastUsedMs = Date.now()
    return entry
  }

  private evict(name: string, entry: LoadedDoc): void {
    this.resize(entry, 0)
    entry.doc.destroy()
    this.loaded.delete(name)
    this.metrics.evictions.inc()
    this.metrics.loadedDocs.set(this.loaded.size)
  }

  private evictIdle(nowMs: number): void {
    for (const [name, entry] of this.loaded) {
      if (entry.handles === 0 && nowMs - entry.lastUsedMs >= this.limits.idleEvictMs) this.evict(name, entry)
    }
  }

  private evictOverBudget(): void {
    const idle = [...this.loaded].filter(([, e]) => e.handles === 0)
    idle.sort(([, a], [, b]) => a.lastUsedMs - b.lastUsedMs)
    for (const [name, entry] of idle) {
      if (this.idleBytes <= this.limits.idleCacheBytes) break
      this.evict(name, entry)
    }
  }
}
