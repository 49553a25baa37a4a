import { join } from 'node:path'
import { open, type RootDatabase } from 'lmdb'
import { DocStorage } from './doc-storage.js'
import { RaftStorage } from './raft-storage.js'
import { ChangeLogStorage } from './change-log.js'
import { WebhookStorage } from './webhook-storage.js'
import type { RaftWalOptions } from './raft-wal/raft-wal.js'

export interface StorageOptions {
  /** Directory of the LMDB environment; created if missing. */
  path: string
  /** Upper bound on the map size in bytes; LMDB grows the file up to it. */
  mapSizeBytes?: number
  /** Segment and preallocation sizes of the Raft WAL (`<path>/raft-wal`). */
  raftWal?: RaftWalOptions
}

/** The one LMDB environment of a node and the stores in it, and the Raft WAL beside it. Only storage/ touches lmdb. */
export class NodeStorage {
  readonly docs: DocStorage
  /** Each document's version history, kept as a document of its own (see history/). */
  readonly history: DocStorage
  /** The documents' change feed, written in the same transactions as they are. */
  readonly changes: ChangeLogStorage
  /** Webhook deliveries queued from the change feed, written in the documents' group commits. */
  readonly webhooks: WebhookStorage
  readonly raft: RaftStorage
  private readonly env: RootDatabase

  constructor(options: StorageOptions) {
    // maxDbs: the named databases of every store here, with room to add more (LMDB's default is 12).
    this.env = open({ path: options.path, mapSize: options.mapSizeBytes ?? 64 * 1024 ** 3, overlappingSync: true, maxDbs: 64 })
    this.changes = new ChangeLogStorage(this.env)
    this.webhooks = new WebhookStorage(this.env)
    this.docs = new DocStorage(this.env, 'doc', this.changes)
    this.history = new DocStorage(this.env, 'history', null)
    this.raft = new RaftStorage(this.env, join(options.path, 'raft-wal'), options.raftWal)
  }

  /**
   * Writes a consistent copy of the LMDB environment into the empty directory `dir` while the node serves
   * (LMDB's own copy, from one read transaction); returns the file it wrote.
   */
  async copyTo(dir: string): Promise<string> {
    await this.env.backup(dir, false)
    return join(dir, 'data.mdb')
  }

  async close(): Promise<void> {
    this.raft.close()
    await this.env.flushed
    await this.env.close()
  }
}
