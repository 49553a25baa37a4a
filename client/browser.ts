import { IndexeddbPersistence } from 'y-indexeddb'
import type * as Y from 'yjs'
import { createSyncClient, type DocPersistence, type SyncClientOptions, type SyncmeshClient } from './sync-client.js'

export { createDocsClient } from './docs-client.js'
export type { DocsClient, RestoreResult, RootChange, RootKind, Version, VersionDiff } from './docs-client.js'
export type { DocVersions } from './doc-versions.js'
export { SyncmeshApiError } from './api-error.js'
export { followChanges, type ChangeEvent, type ChangesOptions } from './change-feed.js'
export { createAdminClient } from './admin-client.js'
export type { AdminClient, AdminClientOptions, ClusterOverview, MemberInput, NamespaceSpec, WebhookList, WebhookSpec, WriteOptions } from './admin-client.js'
export { nodeApi, type NodeApiClient, type NodeApiOptions, type TokenSource } from './node-api.js'
export type { ConnectionState, ConnectionStatus, SyncedDoc, SyncmeshClient } from './sync-client.js'

export interface BrowserClientOptions extends Omit<SyncClientOptions, 'persistence' | 'WebSocketPolyfill'> {
  /** Keep every opened document in IndexedDB, for working offline and across reloads (default true). */
  offline?: boolean
}

/** Offline copies in the browser's IndexedDB, one database per document (y-indexeddb). */
class IndexedDbPersistence implements DocPersistence {
  attach(name: string, doc: Y.Doc): () => void {
    const kept = new IndexeddbPersistence(`syncmesh:${name}`, doc)
    return () => void kept.destroy()
  }

  async close(): Promise<void> {}
}

/** The client for browsers (what `syncmesh/client` resolves to under the `browser` condition). */
export function createClient(options: BrowserClientOptions): SyncmeshClient {
  const { offline = true, ...rest } = options
  return createSyncClient(offline ? { ...rest, persistence: new IndexedDbPersistence() } : rest)
}
