import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { DocMeta, DocStorage, DocSummary, KeptDigest } from '../storage/doc-storage.js'
import type { Metrics } from '../metrics.js'
import { checkUpdate } from './validate-update.js'
import { DocCache, type DocCacheLimits, type DocHandle } from './doc-cache.js'
import { DocSummaries } from './doc-summaries.js'
import { snapshotContains } from './snapshot-containment.js'
import { buildDoc, readStoredUpdate, readStoredUpdates, serverDoc } from './stored-updates.js'
import { compactedBase } from './compacted-base.js'
import type { DeleteSet } from '../protocol/delete-set.js'
import type { ApplyResult, DocStoreMetadata } from './update-gate.js'

export type { DocHandle } from './doc-cache.js'
export type { ApplyResult, DocStoreMetadata, GateRefusal, UpdateGate } from './update-gate.js'

export interface DocStoreOptions extends DocCacheLimits {
  /** Fold a document's log into its base once it holds this many updates… */
  compactAfterUpdates: number
  /** …or this many bytes. */
  compactAfterBytes: number
}

export const defaultDocStoreOptions: DocStoreOptions = {
  compactAfterUpdates: 5_000,
  compactAfterBytes: 4 * 1024 * 1024,
  idleCacheBytes: 64 * 1024 * 1024,
  idleEvictMs: 30_000,
}

/** A write of another part of the node that goes into the next group commit (see `writeWithNextCommit`). */
interface SideWrite {
  write(): void
  settle(err: unknown): void
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
  /** `meta` is the document's as this commit left it. */
  committed(name: string, updates: CommittedUpdates, meta: DocMeta): void
  deleted(name: string): void
  /** The document's digest and snapshot were computed, as of its meta's `nextSeq` = `summary.seq`. */
  summarized(name: string, summary: DocSummary): void
}

/**
 * Every document's replica on this node. All writes — from clients, REST and (later) peers — come through
 * `apply`, which validates, persists with group commit, and only then applies the update to the in-memory
 * document, whose `update` event is what sessions broadcast. So the in-memory state never runs ahead of disk:
 * nothing is sent to anyone before it is durable.
 */
export class DocStore {
  private readonly options: DocStoreOptions
  private readonly cache: DocCache
  private readonly summaries: DocSummaries
  private pending: PendingUpdate[] = []
  /** Bytes of each document's accepted updates not yet committed, queued or in the commit under way. */
  private readonly uncommittedBytes = new Map<string, number>()
  private compactionsDue = new Set<string>()
  private sideWrites: SideWrite[] = []
  private readonly listeners: Partial<DocStoreEvents>[] = []
  private flushScheduled = false
  private flushing: Promise<void> | null = null
  private closed = false

  constructor(
    private readonly storage: DocStorage,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly metadata: DocStoreMetadata,
    options: Partial<DocStoreOptions> = {},
    /** The ids of the document's content its retained versions show, which compaction keeps (see compacted-base.ts). */
    private readonly retainedContent: (name: string) => DeleteSet = () => Y.createDeleteSet(),
  ) {
    this.options = { ...defaultDocStoreOptions, ...options }
    this.cache = new DocCache((name) => this.load(name), metrics, this.options)
    this.summaries = new DocSummaries(storage, this.cache, log, (name, summary) => {
      this.scheduleFlush()
      for (const listener of this.listeners) listener.summarized?.(name, summary)
    })
  }

  /**
   * Listens to durable changes: `committed` after every group commit that wrote the document, `deleted` when
   * it is dropped. Returns what removes the listener.
   */
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
    const gated = this.metadata.gate(
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
    return this.cache.open(name)
  }

  /** The whole document, or what `stateVector` lacks, as a Yjs v1 update; undefined if it was never written. */
  readUpdate(name: string, stateVector?: Uint8Array): Uint8Array | undefined {
    const entry = this.cache.get(name)
    if (entry) return Y.encodeStateAsUpdate(entry.doc, stateVector)
    const whole = readStoredUpdate(this.storage, name, this.log)
    return whole && stateVector ? Y.diffUpdate(whole, stateVector) : whole
  }

  /** The document's Yjs state vector; undefined if it was never written. */
  stateVector(name: string): Uint8Array | undefined {
    const entry = this.cache.get(name)
    if (entry) return Y.encodeStateVector(entry.doc)
    const snapshot = this.summaries.currentSnapshot(name)
    if (snapshot) return Y.encodeStateVector(Y.decodeSnapshot(snapshot).sv)
    const whole = readStoredUpdate(this.storage, name, this.log)
    return whole && Y.encodeStateVectorFromUpdate(whole)
  }

  /**
   * The state vector of a document in memory and the meta `nextSeq` it stands at — behind storage's while a
   * commit is visible there and not yet published (it is, once durable); undefined for a document not in memory.
   */
  loadedStateVector(name: string): { stateVector: Uint8Array; seq: number } | undefined {
    const entry = this.cache.get(name)
    return entry && { stateVector: Y.encodeStateVector(entry.doc), seq: entry.seq }
  }

  /** `readUpdate` and `stateVector` together, from one read of the document. */
  readDelta(name: string, stateVector?: Uint8Array): { update: Uint8Array; stateVector: Uint8Array } | undefined {
    const entry = this.cache.get(name)
    if (entry) return { update: Y.encodeStateAsUpdate(entry.doc, stateVector), stateVector: Y.encodeStateVector(entry.doc) }
    const whole = readStoredUpdate(this.storage, name, this.log)
    if (!whole) return undefined
    return { update: stateVector ? Y.diffUpdate(whole, stateVector) : whole, stateVector: Y.encodeStateVectorFromUpdate(whole) }
  }

  /**
   * The document's digest (state vector and delete set, see doc-digest.ts); undefined if it was never
   * written. Digests are kept in the document's stored meta until the document changes, so only changed
   * documents are ever loaded to compute them.
   */
  digest(name: string): Uint8Array | undefined {
    return this.summaries.digest(name)?.digest
  }

  /** `digest` with the item hash anti-entropy adds up for it (replication/item-hash.ts), kept beside it. */
  keptDigest(name: string): KeptDigest | undefined {
    return this.summaries.digest(name)
  }

  /**
   * Whether the document already holds everything in `update` — its structs and its deletions — as far as
   * its latest summary tells; applying such an update would change nothing. A summary made before the latest
   * changes still answers: a Yjs document only ever gains structs and deletions, so what an earlier state
   * held, the current one holds too. False when there is no summary, and for an update that does not decode
   * (`apply` refuses that one).
   */
  holds(name: string, update: Uint8Array): boolean {
    return this.summaries.holds(name, update)
  }

  /** The document's encoded Yjs snapshot (state vector and delete set); undefined if it was never written. */
  snapshot(name: string): Uint8Array | undefined {
    return this.summaries.currentSnapshot(name) ?? this.peek(name, (doc) => Y.encodeSnapshot(Y.snapshot(doc)))
  }

  /**
   * Whether the document durably holds at least `wanted` (see snapshot-containment.ts): asked of the latest
   * summary first — what an earlier state held, the current one holds too —, then of the document itself.
   */
  containsSnapshot(name: string, wanted: Y.Snapshot): boolean {
    const kept = this.summaries.latestSnapshot(name)
    if (kept && snapshotContains(Y.decodeSnapshot(kept), wanted)) return true
    return this.peek(name, (doc) => snapshotContains(Y.snapshot(doc), wanted)) ?? false
  }

  /** Every stored document's name and its kept digest, if still valid, in name order. */
  storedDigests(): Generator<{ name: string; kept: KeptDigest | undefined }> {
    return this.summaries.storedDigests()
  }

  /**
   * Runs `read` on a private copy of the document, so that typing its roots cannot disturb the copy
   * that sessions share; undefined if the document was never written.
   */
  withDoc<T>(name: string, read: (doc: Y.Doc) => T): T | undefined {
    const entry = this.cache.get(name)
    if (!entry) return this.readBuilt(name, read)
    const doc = serverDoc(name)
    try {
      Y.applyUpdate(doc, Y.encodeStateAsUpdate(entry.doc))
      return read(doc)
    } finally {
      doc.destroy()
    }
  }

  /**
   * Runs `read` on the document itself — the one sessions share when it is in memory, else one built from
   * storage — without a copy, for reads that neither change its content nor type its roots (`withDoc` is for
   * those); undefined if the document was never written.
   */
  peek<T>(name: string, read: (doc: Y.Doc) => T): T | undefined {
    const entry = this.cache.get(name)
    return entry ? read(entry.doc) : this.readBuilt(name, read)
  }

  private readBuilt<T>(name: string, read: (doc: Y.Doc) => T): T | undefined {
    const stored = readStoredUpdates(this.storage, name)
    if (!stored) return undefined
    const doc = buildDoc(name, stored.updates, this.log)
    try {
      return read(doc)
    } finally {
      doc.destroy()
    }
  }

  /**
   * Drops a deleted document: from memory at once, from storage in the next group commit. The caller
   * closes its sessions first; the gate refuses any later write. Listeners hear of it once storage no longer
   * holds it: the digest index must not drop a document that reads still return, nor compute its digest
   * again from storage afterwards. `deletedAt` is the deletion's log index, when the caller applies it.
   */
  async delete(name: string, deletedAt?: number): Promise<void> {
    this.cache.drop(name)
    this.summaries.forget(name)
    await this.storage.transact(() => this.storage.remove(name, deletedAt))
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
    return this.cache.get(name) !== undefined
  }

  get loadedCount(): number {
    return this.cache.size
  }

  /** Resolves once every update accepted so far is durable (or refused by storage). */
  async whenWritten(): Promise<void> {
    if (this.flushing) await this.flushing
    if (this.pending.length > 0) await (this.flushing ?? this.flush())
  }

  /**
   * Runs `write` inside the next group commit's transaction (it must not throw), and resolves once that is
   * durable: another part of the node stores what goes with the documents without a transaction of its own,
   * which would be one more flush of the disk for the commits to wait behind.
   */
  writeWithNextCommit(write: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sideWrites.push({ write, settle: (err) => (err === undefined ? resolve() : reject(err)) })
      this.scheduleFlush()
    })
  }

  /** Waits for every accepted update to be durable, then drops all documents from memory. */
  async close(): Promise<void> {
    this.closed = true
    while (this.flushing || this.hasWritesDue()) {
      await (this.flushing ?? this.flush())
    }
    this.cache.close()
  }

  /** What the cache loads: the document as stored (empty if it was never written). */
  private load(name: string): { doc: Y.Doc; seq: number; bytes: number } {
    const stored = readStoredUpdates(this.storage, name)
    return {
      doc: buildDoc(name, stored?.updates ?? [], this.log),
      seq: stored?.meta.nextSeq ?? 1,
      bytes: stored ? stored.meta.baseBytes + stored.meta.logBytes : 0,
    }
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
    return this.pending.length > 0 || this.compactionsDue.size > 0 || this.summaries.hasDue || this.sideWrites.length > 0
  }

  /**
   * One group commit: everything that arrived since the last one goes into a single LMDB transaction.
   * Only one commit is in flight at a time, so a batch grows with load and applies in arrival order.
   */
  private flush(): Promise<void> {
    const batch = this.pending
    const compactions = this.compactionsDue
    const summaries = this.summaries.takeDue()
    const sideWrites = this.sideWrites
    this.pending = []
    this.compactionsDue = new Set()
    this.sideWrites = []
    // commit() answers every update itself; what throws past it is a bug, logged here, never an unhandled rejection.
    this.flushing = this.commit(batch, compactions, summaries, sideWrites)
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
    sideWrites: SideWrite[],
  ): Promise<void> {
    const byDoc = groupByDoc(batch)
    const startedAt = performance.now()
    let metas: Map<string, DocMeta>
    try {
      metas = await this.storage.transact(() => {
        const nowMs = Date.now()
        const written = new Map<string, DocMeta>()
        // Deletions are final: tombstones are read here, in the transaction, not when the updates were queued.
        for (const name of byDoc.keys()) if (this.metadata.isDeleted(name)) refuseDeleted(byDoc, name)
        // Compaction first: the in-memory state it encodes holds exactly the log committed before this batch.
        for (const name of compactions) if (!this.metadata.isDeleted(name)) this.compactInTransaction(name)
        for (const [name, summary] of summaries) if (!this.metadata.isDeleted(name)) this.storage.setSummary(name, summary)
        for (const [name, updates] of byDoc) {
          written.set(name, this.storage.appendLog(name, updates.map((p) => p.update), nowMs))
        }
        for (const side of sideWrites) side.write()
        return written
      })
    } catch (err) {
      this.log.error({ err }, 'group commit failed; updates refused')
      for (const p of batch) p.resolve({ ok: false, reason: 'storage_failed', message: 'storage write failed' })
      for (const side of sideWrites) side.settle(err)
      return
    }
    for (const side of sideWrites) side.settle(undefined)
    this.metrics.commitSeconds.observe((performance.now() - startedAt) / 1000)
    this.metrics.commitBatchUpdates.observe(batch.length)

    for (const [name, updates] of byDoc) {
      const meta = metas.get(name)!
      // Durable now, whatever a listener or the in-memory copy does with it: one document's failure is logged
      // and every write of the batch is still answered.
      try {
        this.publish(name, updates, meta.nextSeq)
        for (const listener of this.listeners) listener.committed?.(name, updates, meta)
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

  /**
   * Applies durable updates to the in-memory document in one Yjs transaction, so that its room sends one merged
   * update for all of them: with many writers at once, one frame per reader and group commit rather than one per
   * writer. The transaction's origin is the writer's when all came from one (the room does not echo it back to
   * it), else none (every member gets the merged update; what a writer already has is a no-op to it).
   */
  private publish(name: string, updates: PendingUpdate[], seq: number): void {
    const entry = this.cache.get(name)
    if (!entry) return
    entry.seq = seq
    const first = updates[0]!.origin
    const origin = updates.every((p) => p.origin === first) ? first : null
    entry.doc.transact(() => {
      for (const { update } of updates) {
        this.cache.resize(entry, entry.bytes + update.byteLength)
        try {
          Y.applyUpdate(entry.doc, update, origin)
        } catch (err) {
          this.log.error({ err, doc: name }, 'validated update failed to apply in memory')
        }
      }
    }, origin)
  }

  private compactInTransaction(name: string): void {
    const entry = this.cache.get(name)
    const retained = this.retainedContent(name)
    let base: Uint8Array
    if (entry) {
      base = compactedBase(entry.doc, retained)
      this.cache.resize(entry, base.byteLength)
    } else {
      const stored = readStoredUpdates(this.storage, name)
      if (!stored) return
      const doc = buildDoc(name, stored.updates, this.log)
      base = compactedBase(doc, retained)
      doc.destroy()
    }
    this.storage.replaceWithBase(name, base)
    this.metrics.compactions.inc()
  }
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
