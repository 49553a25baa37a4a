import { createAdaptorServer } from '@hono/node-server'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { NodeStorage } from './storage/lmdb-env.js'
import { DocStore, type DocStoreOptions } from './docs/doc-store.js'
import { SyncServer } from './sync/sync-server.js'
import { createApp } from './http/app.js'
import { createMetrics, type Metrics } from './metrics.js'

export interface NodeConfig {
  id: string
  host: string
  /** 0 lets the OS pick. */
  port: number
  dataDir: string
  /** Largest WebSocket frame or REST body accepted. */
  maxMessageBytes: number
  /** A client whose unsent bytes pass this bound is disconnected. */
  maxBufferedBytes: number
  keepaliveIntervalMs: number
  docs?: Partial<DocStoreOptions>
}

export const defaultNodeConfig = {
  host: '127.0.0.1',
  port: 4000,
  dataDir: './data',
  maxMessageBytes: 16 * 1024 * 1024,
  maxBufferedBytes: 64 * 1024 * 1024,
  keepaliveIntervalMs: 30_000,
} as const

export interface SyncmeshNode {
  readonly id: string
  readonly url: string
  readonly port: number
  readonly docs: DocStore
  readonly metrics: Metrics
  /** Stops accepting, closes client sockets with 1001, waits for pending writes, closes storage. */
  close(): Promise<void>
}

/** Composes one node from its parts; the only place that knows them all. */
export async function startNode(config: NodeConfig, log: Logger): Promise<SyncmeshNode> {
  const metrics = createMetrics()
  const storage = new NodeStorage({ path: config.dataDir })
  const docs = new DocStore(storage.docs, metrics, log, config.docs)
  const sync = new SyncServer(docs, metrics, log, {
    maxMessageBytes: config.maxMessageBytes,
    maxBufferedBytes: config.maxBufferedBytes,
    keepaliveIntervalMs: config.keepaliveIntervalMs,
  })
  let closing: Promise<void> | null = null
  const app = createApp(docs, metrics, log, { maxBodyBytes: config.maxMessageBytes, isReady: () => closing === null })
  const server = createAdaptorServer({ fetch: app.fetch }) as Server
  server.on('upgrade', (request, socket, head) => sync.handleUpgrade(request, socket, head))

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const url = `http://${host}:${port}`

  return {
    id: config.id,
    url,
    port,
    docs,
    metrics,
    close: () =>
      (closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
        sync.close()
        await docs.close()
        server.closeAllConnections()
        await serverClosed
        await storage.close()
      })()),
  }
}
