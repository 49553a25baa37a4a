import type { Database, RootDatabase } from 'lmdb'
import { durableTransaction } from './durable-transaction.js'
import { decodeLogRecord, encodeLogRecord } from './log-record.js'
import type { ChangeLogStorage } from './change-log.js'

/** What the store keeps about a document besides its updates. */
export interface DocMeta {
  /** Sequence number the next log record of this document gets. */
  nextSeq: number
  /** Updates in the log that compaction has not folded into the base yet. */
  logUpdates: number
  logBytes: number
  baseBytes: number
  updatedAtMs: number
  /**
   * The document's digest as it was when `nextSeq` was `digest.seq`: current while the two are equal. The snapshot
   * it hashes is kept apart (`getSnapshot`), so that the metas a restart reads stay small.
   */
  digest?: KeptDigest
}

export interface KeptDigest {
  seq: number
  /** See docs/doc-digest.ts. */
  digest: Uint8Array
  /** What the (name, digest) item adds to anti-entropy's fingerprints (replication/item-hash.ts). */
  itemHash: Uint8Array
}

/** What replication asks of a document most often, kept so that an unchanged document is not read again. */
export interface DocSummary extends KeptDigest {
  /** The encoded Yjs snapshot the digest hashes: delete set and state vector. */
  snapshot: Uint8Array
}

/** A document's stored state: the compacted base (if any) followed by the log, in order. */
export interface StoredDoc {
  base: Uint8Array | null
  log: Uint8Array[]
  meta: DocMeta
}

type LogKey = [string, number]

/**
 * A set of documents' databases in the node's LMDB environment: the documents themselves (`doc-…`), or their
 * version histories (`history-…`, see history/), which are documents too.
 *
 * Writes are made only inside `transact`, which is the group commit: the callback runs in one write
 * transaction, and the returned promise resolves once that transaction is committed *and* flushed to disk.
 */
export class DocStorage {
  private readonly metas: Database<DocMeta, string>
  private readonly bases: Database<Uint8Array, string>
  private readonly logs: Database<Uint8Array, LogKey>
  private readonly snapshots: Database<Uint8Array, string>
  constructor(
    private readonly env: RootDatabase,
    prefix: 'doc' | 'history',
    /** The change feed, if these documents have one: every write and removal records itself there in the same transaction. */
    private readonly changes: ChangeLogStorage | null,
  ) {
    // Shared structures: the field names are stored once, not in every value, so that reading a meta (which
    // anti-entropy does for thousands of documents in a row) skips decoding a record definition each time.
    // Values written before carry their own definitions and still decode.
    this.metas = this.env.openDB<DocMeta, string>({ name: `${prefix}-meta`, encoding: 'msgpack', sharedStructuresKey: Symbol.for('structures') })
    this.bases = this.env.openDB<Uint8Array, string>({ name: `${prefix}-base`, encoding: 'binary' })
    this.logs = this.env.openDB<Uint8Array, LogKey>({ name: `${prefix}-log`, encoding: 'binary' })
    this.snapshots = this.env.openDB<Uint8Array, string>({ name: `${prefix}-snapshot`, encoding: 'binary' })
  }

  /** Runs `fn` in one write transaction; resolves when the transaction is durable. */
  transact<T>(fn: () => T): Promise<T> {
    return durableTransaction(this.env, fn)
  }

  getMeta(name: string): DocMeta | undefined {
    return this.metas.get(name)
  }

  /** The snapshot of the document's latest kept digest (`DocMeta.digest`), current or not. */
  getSnapshot(name: string): Uint8Array | undefined {
    return this.snapshots.getBinary(name)
  }

  /** Reads base and log from one snapshot (a synchronous read sees one read transaction). */
  read(name: string): StoredDoc | undefined {
    const meta = this.metas.get(name)
    if (meta === undefined) return undefined
    // The meta says whether there is a base and a log at all: skipping an empty lookup matters to anti-entropy,
    // which reads thousands of small documents in a row.
    const base = meta.baseBytes > 0 ? (this.bases.getBinary(name) ?? null) : null
    const log: Uint8Array[] = []
    if (meta.logUpdates === 0) return { base, log, meta }
    for (const { value } of this.logs.getRange({ start: [name, 0], end: [name, Number.MAX_SAFE_INTEGER] })) {
      for (const update of decodeLogRecord(value)) log.push(update)
    }
    return { base, log, meta }
  }

  /** Inside `transact`: appends one log record holding `updates` and returns the document's new meta. */
  appendLog(name: string, updates: readonly Uint8Array[], nowMs: number): DocMeta {
    const record = encodeLogRecord(updates)
    const meta = this.metas.get(name) ?? { nextSeq: 1, logUpdates: 0, logBytes: 0, baseBytes: 0, updatedAtMs: 0 }
    const next: DocMeta = {
      nextSeq: meta.nextSeq + 1,
      logUpdates: meta.logUpdates + updates.length,
      logBytes: meta.logBytes + record.byteLength,
      baseBytes: meta.baseBytes,
      updatedAtMs: nowMs,
      // Out of date from now on, but what its snapshot holds, the document still holds (see setSummary).
      ...(meta.digest && { digest: meta.digest }),
    }
    this.logs.putSync([name, meta.nextSeq], record)
    this.metas.putSync(name, next)
    this.changes?.mark(name, next.nextSeq)
    return next
  }

  /** Inside `transact`: replaces base and whole log of `name` by `base`, which must contain them all. */
  replaceWithBase(name: string, base: Uint8Array): DocMeta | undefined {
    const meta = this.metas.get(name)
    if (meta === undefined) return undefined
    this.removeLog(name)
    this.bases.putSync(name, base)
    const next: DocMeta = { ...known(meta), logUpdates: 0, logBytes: 0, baseBytes: base.byteLength }
    this.metas.putSync(name, next)
    return next
  }

  /**
   * Inside `transact`: keeps `summary` unless a newer one is kept. One made before the latest changes is kept
   * too: its digest no longer counts (see `digest.seq`), but what its snapshot holds, the document still does.
   */
  setSummary(name: string, { seq, digest, itemHash, snapshot }: DocSummary): void {
    const meta = this.metas.get(name)
    if (meta === undefined || (meta.digest && meta.digest.seq >= seq)) return
    this.metas.putSync(name, { ...known(meta), digest: { seq, digest, itemHash } })
    this.snapshots.putSync(name, snapshot)
  }

  /**
   * Inside `transact`: removes everything stored for `name`, deleted by the cluster at log index `deletedAt` when
   * known, and marks its deletion for the change feed (see ChangeLogStorage.markRemoved).
   */
  remove(name: string, deletedAt?: number): void {
    this.changes?.markRemoved(name, this.metas.get(name) !== undefined, deletedAt)
    this.removeLog(name)
    this.bases.removeSync(name)
    this.snapshots.removeSync(name)
    this.metas.removeSync(name)
  }

  private removeLog(name: string): void {
    const keys = [...this.logs.getKeys({ start: [name, 0], end: [name, Number.MAX_SAFE_INTEGER] })]
    for (const key of keys) this.logs.removeSync(key)
  }

  /** Document names in order, starting after `after`, that begin with `prefix`. */
  *list(prefix: string, after: string | undefined): Generator<{ name: string; meta: DocMeta }> {
    const start = after !== undefined && after >= prefix ? after : prefix
    for (const { key, value } of this.metas.getRange({ start })) {
      if (!key.startsWith(prefix)) return
      if (key === after) continue
      yield { name: key, meta: value }
    }
  }
}

/**
 * The meta's fields, without any a store written by an earlier version may carry (its digest and snapshot kept
 * together as `summary`: such a document counts as having no digest, and gets a new one, kept in the new way).
 */
function known({ nextSeq, logUpdates, logBytes, baseBytes, updatedAtMs, digest }: DocMeta): DocMeta {
  return { nextSeq, logUpdates, logBytes, baseBytes, updatedAtMs, ...(digest && { digest }) }
}
