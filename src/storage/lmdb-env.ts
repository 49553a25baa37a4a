import { open, type RootDatabase } from 'lmdb'
import { DocStorage } from './doc-storage.js'
import { RaftStorage } from './raft-storage.js'

export interface StorageOptions {
  /** Directory of the LMDB environment; created if missing. */
  path: string
  /** Upper bound on the map size in bytes; LMDB grows the file up to it. */
  mapSizeBytes?: number
}

/** The one LMDB environment of a node and the stores in it. Only storage/ touches lmdb. */
export class NodeStorage {
  readonly docs: DocStorage
  readonly raft: RaftStorage
  private readonly env: RootDatabase

  constructor(options: StorageOptions) {
    this.env = open({ path: options.path, mapSize: options.mapSizeBytes ?? 64 * 1024 ** 3, overlappingSync: true })
    this.docs = new DocStorage(this.env)
    this.raft = new RaftStorage(this.env)
  }

  async close(): Promise<void> {
    await this.env.flushed
    await this.env.close()
  }
}
