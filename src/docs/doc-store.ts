import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { DocMeta, DocStorage, DocSummary } from '../storage/doc-storage.js'
import type { Metrics } from '../metrics.js'
import { checkUpdate } from './validate-update.js'
import { docDigest } from './doc-digest.js'

/** Why an update may be refused before it touches storage, besides being undecodable. */
export type GateRefusal =
  | 'deleted'
  | 'read_only'
  | 'undeclared_root'
  | 'wrong_root_kind'
  | 'update_too_large'
  | 'doc_too_large'
  | 'invalid_update'

export type ApplyResult =
  | { ok: true }
  | { ok: false; reason: GateRefusal | 'storage_failed' | 'shutting_down'; message: string }

/**
 * The metadata's say on a write (tombstones, namespace schemas and limits), asked before anything is
 * stored. `storedBytes` reads the document's current stored size; it costs a storage read, so a gate
 * calls it only when a size limit applies.
 */
export type UpdateGate = (
  name: string,
  update: Uint8Array,
  storedBytes: () => number,
  /** Who sends it, as given to `apply`. */
  origin: unknown,
) => { ok: true } | { ok: false; reason: GateRefusal; message: string }

export interface DocStoreOptions {
  /** Fold a document's log into its base once it holds this many updates… */
  compactAfterUpdates: number
  /** …or this many bytes. */
  compactAfterBytes: number
  /** Bytes of idle documents (no handle open) kept in memory; beyond it the least recently used go. */
  idleCacheBytes: number
  /** An idle document is dropped from memory after this long without use. */
  idleEvictMs: number
}

export const defaultDocStoreOptions: DocStoreOptions = {
  compactAfterUpdates: 5_000,
  compactAfterBytes: 4 * 1024 * 1024,
  idleCacheBytes: 64 * 1024 * 1024,
  idleEvictMs: 30_000,
}

/** A document held open by a user (a sync room); the Y.Doc stays in memory until every handle is released. */
export interface DocHandle {
  readonly name: string
  readonly doc: Y.Doc
  release(): void
}

interface LoadedDoc {
  doc: Y.Doc
  /** The stored `nextSeq` that `doc` is in step with. */
  seq: number
  handles: number
  /** Approximate memory cost: stored bytes at load plus bytes applied since. */
  bytes: number
  lastUsedMs: number
}

interface PendingUpdate {
  name: string
  update: Uint8Array
  origin: unknown
  resolve: (result: ApplyResult) => void
}

/** Updates of one document made durable by one group commit, in order, with the origin each came from. */
export type CommittedUpdates = readonly { update: Uint8Array; origin: unknown }[]

export interface DocStoreEvents {
  committed(name: string, updates: CommittedUpdates): void
  deleted(name: string): void
}

/** Bound on the stored log size for which a cold read merges updates instead of building a Y.Doc. */
const maxUpdatesToMerge = 256

/**
 * Every document's replica on this node. All writes — from clients, REST and (later) peers — come through
 * `apply`, which validates, persists with group commit, and only then applies the update to the in-memory
 * document, whose `update` event is what sessions broadcast. So the in-memory state never runs ahead of disk:
 * nothing is sent to anyone before it is durable.
 */
export class DocStore {
  private readonly options: DocStoreOptions
  private readonly loaded = new Map<string, LoadedDoc>()
  /** Sum of `bytes` over loaded documents with no open handle. */
  private idleBytes = 0
  private pending: PendingUpdate[] = []
  /** Bytes of each document's accepted updates not yet committed, queued or in the commit under way. */
  private readonly uncommittedBytes = new Map<string, number>()
  private compactionsDue = new Set<string>()
  /** Summaries computed since the last commit, kept with the next one (see `digest`). */
  private summariesDue = new Map<string, DocSummary>()
  private readonly listeners: Partial<DocStoreEvents>[] = []
  private flushScheduled = false
  private flushing: Promise<void> | null = null
  private closed = false
  private readonly sweepTimer: NodeJS.Timeout

  private gate: UpdateGate = () => ({ ok: true })
  private isDeleted: (name: string) => boolean = () => false

  constructor(
    private readonly storage: DocStorage,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    options: Partial<DocStoreOptions> = {},
  ) {
    this.options = { ...defaultDocStoreOptions, ...options }
    this.sweepTimer = setInterval(() => this.evictIdle(Date.now()), Math.max(1_000, this.options.idleEvictMs / 2))
    this.sweepTimer.unref()
  }

  setGate(gate: UpdateGate): void {
    this.gate = gate
  }

  /**
   * Which documents are deleted (tombstoned), asked again inside every group commit: an update that passed
   * the gate before its document's tombstone committed must not be written after it.
   */
  setTombstones(isDeleted: (name: string) => boolean): void {
    this.isDeleted = isDeleted
  }

  /** Listens to durable changes: `committed` after every group commit that wrote the document, `deleted` when it is dropped. */
  /** Adds a listener; returns what removes it. */
  on(listener: Partial<DocStoreEvents>): () => void {
    this.listeners.push(listener)
    return () => {
      const at = this.listeners.indexOf(listener)
      if (at >= 0) this.listeners.splice(at, 1)
    }
  }

  /** Validates and persists `update`; resolves once it is durable and applied to the in-memory document. */
  apply(name: string, update: Uint8Array, origin: unknown): Promise<ApplyResult> {
    const check = checkUpdate(update)
    if (!check.ok) {
      this.metrics.updatesRejected.inc({ reason: check.reason })
      return Promise.resolve(check)
    }
    if (check.empty) return Promise.resolve({ ok: true })
    if (this.closed) return Promise.resolve({ ok: false, reason: 'shutting_down', message: 'the node is shutting down' })
    // Updates accepted but not committed yet count too: a limit must hold for a whole group commit.
    const gated = this.gate(
      name,
      update,
      () => {
        const meta = this.storage.getMeta(name)
        return (meta ? meta.baseBytes + meta.logBytes : 0) + (this.uncommittedBytes.get(name) ?? 0)
      },
      origin,
    )
    if (!gated.ok) {
      this.metrics.updatesRejected.inc({ reason: gated.reason })
      return Promise.resolve(gated)
    }
    this.uncommittedBytes.set(name, (this.uncommittedBytes.get(name) ?? 0) + update.byteLength)
    return new Promise((resolve) => {
      this.pending.push({ name, update, origin, resolve })
      this.scheduleFlush()
    })
  }

  /** Opens a document for a long-lived user, loading it from storage if it is not in memory. */
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
        if (this.idleBytes > this.options.idleCacheBytes) this.evictOverBudget()
      },
    }
  }

  /** The whole document, or what `stateVector` lacks, as a Yjs v1 update; undefined if it was never written. */
  readUpdate(name: string, stateVector?: Uint8Array): Uint8Array | undefined {
    const entry = this.loaded.get(name)
    if (entry) return Y.encodeStateAsUpdate(entry.doc, stateVector)
    const whole = this.readStoredUpdate(name)
    return whole && stateVector ? Y.diffUpdate(whole, stateVector) : whole
  }

  /** The document's Yjs state vector; undefined if it was never written. */
  stateVector(name: string): Uint8Array | undefined {
    const entry = this.loaded.get(name)
    if (entry) return Y.encodeStateVector(entry.doc)
    const kept = this.keptSummary(name)
    if (kept) return Y.encodeStateVector(Y.decodeSnapshot(kept.snapshot).sv)
    const whole = this.readStoredUpdate(name)
    return whole && Y.encodeStateVectorFromUpdate(whole)
  }

  /** `readUpdate` and `stateVector` together, from one read of the document. */
  readDelta(name: string, stateVector?: Uint8Array): { update: Uint8Array; stateVector: Uint8Array } | undefined {
    const entry = this.loaded.get(name)
    if (entry) return { update: Y.encodeStateAsUpdate(entry.doc, stateVector), stateVector: Y.encodeStateVector(entry.doc) }
    const whole = this.readStoredUpdate(name)
    if (!whole) return undefined
    return { update: stateVector ? Y.diffUpdate(whole, stateVector) : whole, stateVector: Y.encodeStateVectorFromUpdate(whole) }
  }

  /**
   * The document's digest (state vector and delete set, see doc-digest.ts); undefined if it was never
   * written. Digest and state vector are kept in the document's stored meta until the document changes, so
   * only changed documents are ever loaded to compute them.
   */
  digest(name: string): Uint8Array | undefined {
    const kept = this.keptSummary(name)
    if (kept) return kept.digest
    const entry = this.loaded.get(name)
    if (entry) return this.summarize(name, entry.doc, entry.seq).digest
    const stored = this.storage.read(name)
    if (!stored) return undefined
    const doc = this.buildDoc(name, stored.base ? [stored.base, ...stored.log] : stored.log)
    try {
      return this.summarize(name, doc, stored.meta.nextSeq).digest
    } finally {
      doc.destroy()
    }
  }

  /**
   * Whether the document already holds everything in `update` — its structs and its deletions — as far as
   * its latest summary tells; applying such an update would change nothing. A summary made before the latest
   * changes still answers: a Yjs document only ever gains structs and deletions, so what an earlier state
   * held, the current one holds too. False when there is no summary, and for an update that does not decode
   * (`apply` refuses that one).
   */
  holds(name: string, update: Uint8Array): boolean {
    const snapshot = (this.summariesDue.get(name) ?? this.storage.getMeta(name)?.summary)?.snapshot
    if (snapshot === undefined) return false
    try {
      return Y.snapshotContainsUpdate(Y.decodeSnapshot(snapshot), update)
    } catch {
      return false
    }
  }

  /** Every stored document's name and its kept digest, if still valid, in name order. */
  *storedDigests(): Generator<{ name: string; digest: Uint8Array | undefined }> {
    for (const { name, meta } of this.storage.list('', undefined)) {
      yield { name, digest: isCurrent(meta) ? meta.summary.digest : undefined }
    }
  }

  /**
   * Runs `read` on a private copy of the document, so that typing its roots cannot disturb the copy
   * that sessions share; undefined if the document was never written.
   */
  withDoc<T>(name: string, read: (doc: Y.Doc) => T): T | undefined {
    const update = this.readUpdate(name)
    if (!update) return undefined
    const doc = serverDoc(name)
    try {
      Y.applyUpdate(doc, update)
      return read(doc)
    } finally {
      doc.destroy()
    }
  }

  /**
   * Drops a deleted document: from memory at once, from storage in the next group commit. The caller
   * closes its sessions first; the gate refuses any later write. Listeners hear of it once storage no longer
   * holds it: the digest index must not drop a document that reads still return, nor compute its digest
   * again from storage afterwards.
   */
  async delete(name: string): Promise<void> {
    const entry = this.loaded.get(name)
    if (entry) this.evict(name, entry)
    this.summariesDue.delete(name)
    await this.storage.transact(() => this.storage.remove(name))
    for (const listener of this.listeners) listener.deleted?.(name)
  }

  meta(name: string): DocMeta | undefined {
    return this.storage.getMeta(name)
  }

  /**
   * Documents named `prefix…` after `after`, in name order, that `include` keeps: up to `limit` of them,
   * looking at no more than `scanLimit`. `resumeAfter` is where the next page starts, null when there is none.
   */
  scan(
    prefix: string,
    after: string | undefined,
    include: (name: string) => boolean,
    bounds: { limit: number; scanLimit: number },
  ): { items: { name: string; meta: DocMeta }[]; resumeAfter: string | null } {
    const items: { name: string; meta: DocMeta }[] = []
    let scanned = 0
    let lastScanned: string | null = null
    for (const item of this.storage.list(prefix, after)) {
      if (scanned === bounds.scanLimit) return { items, resumeAfter: lastScanned }
      scanned++
      if (!include(item.name)) {
        lastScanned = item.name
        continue
      }
      if (items.length === bounds.limit) return { items, resumeAfter: items[items.length - 1]!.name }
      items.push(item)
      lastScanned = item.name
    }
    return { items, resumeAfter: null }
  }

  /** Whether the document is in memory (open by a session, or recently used). */
  isLoaded(name: string): boolean {
    return this.loaded.has(name)
  }

  get loadedCount(): number {
    return this.loaded.size
  }

  /** Waits for every accepted update to be durable, then drops all documents from memory. */
  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.sweepTimer)
    while (this.flushing || this.hasWritesDue()) {
      await (this.flushing ?? this.flush())
    }
    for (const entry of this.loaded.values()) entry.doc.destroy()
    this.loaded.clear()
    this.idleBytes = 0
    this.metrics.loadedDocs.set(0)
  }

  private loadedEntry(name: string): LoadedDoc {
    let entry = this.loaded.get(name)
    if (!entry) {
      const stored = this.storage.read(name)
      const doc = this.buildDoc(name, stored ? (stored.base ? [stored.base, ...stored.log] : stored.log) : [])
      entry = { doc, seq: stored?.meta.nextSeq ?? 1, handles: 0, bytes: 0, lastUsedMs: 0 }
      this.loaded.set(name, entry)
      this.resize(entry, stored ? stored.meta.baseBytes + stored.meta.logBytes : 0)
      this.metrics.loadedDocs.set(this.loaded.size)
    }
    entry.lastUsedMs = Date.now()
    return entry
  }

  /** A document that is not loaded, as one update merged from what is stored. */
  private readStoredUpdate(name: string): Uint8Array | undefined {
    const stored = this.storage.read(name)
    if (!stored) return undefined
    const updates = stored.base ? [stored.base, ...stored.log] : stored.log
    if (updates.length === 1) return updates[0]!
    if (updates.length <= maxUpdatesToMerge) {
      try {
        return Y.mergeUpdates(updates)
      } catch (err) {
        // A damaged record (one stored before validation read the structs): building a doc skips it.
        this.log.error({ err, doc: name }, 'stored updates could not be merged; reading them one by one')
      }
    }
    const doc = this.buildDoc(name, updates)
    try {
      return Y.encodeStateAsUpdate(doc)
    } finally {
      doc.destroy()
    }
  }

  private buildDoc(name: string, updates: readonly Uint8Array[]): Y.Doc {
    const doc = serverDoc(name)
    doc.transact(() => {
      for (const update of updates) {
        try {
          Y.applyUpdate(doc, update)
        } catch (err) {
          // Updates are validated before they are stored, so this means a damaged record; keep the rest readable.
          this.log.error({ err, doc: name }, 'stored update could not be applied; skipped')
        }
      }
    })
    return doc
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      // close() may have written everything meanwhile.
      if (!this.flushing && this.hasWritesDue()) void this.flush()
    })
  }

  private forgetUncommitted({ name, update }: PendingUpdate): void {
    const bytes = (this.uncommittedBytes.get(name) ?? 0) - update.byteLength
    if (bytes > 0) this.uncommittedBytes.set(name, bytes)
    else this.uncommittedBytes.delete(name)
  }

  private hasWritesDue(): boolean {
    return this.pending.length > 0 || this.compactionsDue.size > 0 || this.summariesDue.size > 0
  }

  /**
   * One group commit: everything that arrived since the last one goes into a single LMDB transaction.
   * Only one commit is in flight at a time, so a batch grows with load and applies in arrival order.
   */
  private flush(): Promise<void> {
    const batch = this.pending
    const compactions = this.compactionsDue
    const summaries = this.summariesDue
    this.pending = []
    this.compactionsDue = new Set()
    this.summariesDue = new Map()
    // commit() answers every update itself; what throws past it is a bug, logged here, never an unhandled rejection.
    this.flushing = this.commit(batch, compactions, summaries)
      .catch((err: unknown) => this.log.error({ err }, 'group commit failed after writing'))
      .finally(() => {
        for (const p of batch) this.forgetUncommitted(p)
        this.flushing = null
        if (this.hasWritesDue()) this.scheduleFlush()
      })
    return this.flushing
  }

  private async commit(
    batch: PendingUpdate[],
    compactions: Set<string>,
    summaries: Map<string, DocSummary>,
  ): Promise<void> {
    const byDoc = groupByDoc(batch)
    const startedAt = performance.now()
    let metas: Map<string, DocMeta>
    try {
      metas = await this.storage.transact(() => {
        const nowMs = Date.now()
        const written = new Map<string, DocMeta>()
        // Deletions are final: tombstones are read here, in the transaction, not when the updates were queued.
        for (const name of byDoc.keys()) if (this.isDeleted(name)) refuseDeleted(byDoc, name)
        // Compaction first: the in-memory state it encodes holds exactly the log committed before this batch.
        for (const name of compactions) if (!this.isDeleted(name)) this.compactInTransaction(name)
        for (const [name, summary] of summaries) if (!this.isDeleted(name)) this.storage.setSummary(name, summary)
        for (const [name, updates] of byDoc) {
          written.set(name, this.storage.appendLog(name, updates.map((p) => p.update), nowMs))
        }
        return written
      })
    } catch (err) {
      this.log.error({ err }, 'group commit failed; updates refused')
      for (const p of batch) p.resolve({ ok: false, reason: 'storage_failed', message: 'storage write failed' })
      return
    }
    this.metrics.commitSeconds.observe((performance.now() - startedAt) / 1000)
    this.metrics.commitBatchUpdates.observe(batch.length)

    for (const [name, updates] of byDoc) {
      const meta = metas.get(name)!
      // Durable now, whatever a listener or the in-memory copy does with it: one document's failure is logged
      // and every write of the batch is still answered.
      try {
        this.publish(name, updates, meta.nextSeq)
        for (const listener of this.listeners) listener.committed?.(name, updates)
      } catch (err) {
        this.log.error({ err, doc: name }, 'publishing a durable update failed')
      }
      if (meta.logUpdates >= this.options.compactAfterUpdates || meta.logBytes >= this.options.compactAfterBytes) {
        this.compactionsDue.add(name)
      }
    }
    let count = 0
    let bytes = 0
    for (const updates of byDoc.values()) {
      for (const p of updates) {
        count++
        bytes += p.update.byteLength
        p.resolve({ ok: true })
      }
    }
    this.metrics.updatesApplied.inc(count)
    this.metrics.bytesApplied.inc(bytes)
  }

  /** Applies durable updates to the in-memory document; runs of one origin form one Yjs transaction and event. */
  private publish(name: string, updates: PendingUpdate[], seq: number): void {
    const entry = this.loaded.get(name)
    if (!entry) return
    entry.seq = seq
    let start = 0
    while (start < updates.length) {
      const origin = updates[start]!.origin
      let end = start
      while (end < updates.length && updates[end]!.origin === origin) end++
      entry.doc.transact(() => {
        for (let i = start; i < end; i++) {
          const update = updates[i]!.update
          this.resize(entry, entry.bytes + update.byteLength)
          try {
            Y.applyUpdate(entry.doc, update, origin)
          } catch (err) {
            this.log.error({ err, doc: name }, 'validated update failed to apply in memory')
          }
        }
      }, origin)
      start = end
    }
  }

  private compactInTransaction(name: string): void {
    const entry = this.loaded.get(name)
    let base: Uint8Array
    if (entry) {
      base = Y.encodeStateAsUpdate(entry.doc)
      this.resize(entry, base.byteLength)
    } else {
      const stored = this.storage.read(name)
      if (!stored) return
      const doc = this.buildDoc(name, stored.base ? [stored.base, ...stored.log] : stored.log)
      base = Y.encodeStateAsUpdate(doc)
      doc.destroy()
    }
    this.storage.replaceWithBase(name, base)
    this.metrics.compactions.inc()
  }

  /** The kept summary, if the document (in memory and stored) has not changed since it was made. */
  private keptSummary(name: string): DocSummary | undefined {
    const meta = this.storage.getMeta(name)
    if (!meta || !isCurrent(meta)) return undefined
    const entry = this.loaded.get(name)
    return !entry || entry.seq === meta.nextSeq ? meta.summary : undefined
  }

  /** Computes the summary of `doc`, stored at `seq`, and keeps it with the next commit. */
  private summarize(name: string, doc: Y.Doc, seq: number): DocSummary {
    const summary = { seq, ...docDigest(doc) }
    this.summariesDue.set(name, summary)
    this.scheduleFlush()
    return summary
  }

  private resize(entry: LoadedDoc, bytes: number): void {
    if (entry.handles === 0) this.idleBytes += bytes - entry.bytes
    entry.bytes = bytes
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
      if (entry.handles === 0 && nowMs - entry.lastUsedMs >= this.options.idleEvictMs) this.evict(name, entry)
    }
  }

  private evictOverBudget(): void {
    const idle = [...this.loaded].filter(([, e]) => e.handles === 0)
    idle.sort(([, a], [, b]) => a.lastUsedMs - b.lastUsedMs)
    for (const [name, entry] of idle) {
      if (this.idleBytes <= this.options.idleCacheBytes) break
      this.evict(name, entry)
    }
  }
}

/**
 * A Y.Doc for the server's own use. Its guid is the document name: a new Y.Doc otherwise draws a random
 * UUID, 31 calls to crypto.getRandomValues, which made up most of the cost of loading a small document.
 */
function serverDoc(name: string): Y.Doc {
  return new Y.Doc({ guid: name })
}

/** Answers the document's updates of the batch as refused, and takes them out of it. */
function refuseDeleted(byDoc: Map<string, PendingUpdate[]>, name: string): void {
  for (const p of byDoc.get(name) ?? []) p.resolve({ ok: false, reason: 'deleted', message: 'document deleted' })
  byDoc.delete(name)
}

function groupByDoc(batch: PendingUpdate[]): Map<string, PendingUpdate[]> {
  const byDoc = new Map<string, PendingUpdate[]>()
  for (const p of batch) {
    const list = byDoc.get(p.name)
    if (list) list.push(p)
    else byDoc.set(p.name, [p])
  }
  return byDoc
}

/** Whether the meta's summary describes the document as stored (summaries from before snapshots were kept do not). */
function isCurrent(meta: DocMeta): meta is DocMeta & { summary: DocSummary } {
  return meta.summary !== undefined && meta.summary.seq === meta.nextSeq && meta.summary.snapshot !== undefined
}
