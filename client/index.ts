export { createDocsClient, SyncmeshApiError } from './docs-client.js'
export type { DocPage, DocSummary, DocsClient, DocsClientOptions, RootKind } from './docs-client.js'
export { createClient } from './sync-client.js'
export type { ClientOptions, ConnectionState, ConnectionStatus, SyncedDoc, SyncmeshClient } from './sync-client.js'
