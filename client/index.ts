export { createDocsClient, SyncmeshApiError } from './docs-client.js'
export type { DocPage, DocSummary, DocsClient, DocsClientOptions, RootKind } from './docs-client.js'
