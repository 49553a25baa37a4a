export { startNode, defaultNodeConfig } from './node.js'
export type { NodeConfig, SyncmeshNode } from './node.js'
export type { DocStoreOptions } from './docs/doc-store.js'
