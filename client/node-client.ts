import WebSocket from 'ws'
import { LmdbPersistence } from './lmdb-persistence.js'
import { createSyncClient, type SyncClientOptions, type SyncmeshClient } from './sync-client.js'

export interface ClientOptions extends Omit<SyncClientOptions, 'persistence'> {
  /** A directory for an LMDB file that keeps every document opened, for working offline. */
  persistenceDir?: string
}

/** The client for Node: `ws` as its WebSocket unless told otherwise; offline copies in an LMDB file when `persistenceDir` is given. */
export function createClient(options: ClientOptions): SyncmeshClient {
  const { persistenceDir, ...rest } = options
  const withSocket = { WebSocketPolyfill: WebSocket, ...rest }
  return createSyncClient(persistenceDir === undefined ? withSocket : { ...withSocket, persistence: new LmdbPersistence(persistenceDir) })
}
