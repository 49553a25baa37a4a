import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { Logger } from 'pino'
import type { DocStore } from '../docs/doc-store.js'
import type { Metrics } from '../metrics.js'
import { ApiError, errorBody, type ErrorBody } from './api-error.js'
import { docRoutes } from './doc-routes.js'
import { webRoutes } from './web-routes.js'
import type { AdminApi } from './admin-routes.js'
import type { DocAccessControl } from '../auth/doc-access.js'
import type { ListCursors } from './list-cursor.js'
import type { ChangeFeed } from '../changes/change-feed.js'
import { changeRoutes } from './change-routes.js'
import { backupRoutes, type BackupSource } from './backup-routes.js'
import { openApiRoutes } from './openapi/openapi-routes.js'
import { versionRoutes } from './version-routes.js'
import type { VersionHistory } from '../history/version-history.js'

export interface AppOptions {
  maxBodyBytes: number
  /** Who may read and write which documents (client tokens). */
  access: DocAccessControl
  /** Why the node should get no traffic (shutting down, removed, its metadata unavailable); null while it is ready. */
  notReady(): ErrorBody['error'] | null
  /** Cluster, namespace and deletion routes, mounted at the root. */
  admin: AdminApi
  /** The URLs clients may connect to: every member's. */
  endpoints(): string[]
  listCursors: ListCursors
  changes: ChangeFeed
  backup: BackupSource
  versions: VersionHistory
  isDeleted(name: string): boolean
}

/** How often an idle change-feed event stream writes a comment. */
const changeKeepaliveMs = 15_000

/** The node's HTTP API. Every error leaves through `onError` as `{"error":{"code","message"}}`. */
export function createApp(docs: DocStore, metrics: Metrics, log: Logger, options: AppOptions) {
  const app = new Hono()
    .route('/', options.admin)
    .route('/', backupRoutes(options.backup))
    .get('/healthz', (c) => c.json({ ok: true as const }))
    // Public, for clients that fail over: member URLs are what they connect to anyway.
    .get('/v1/endpoints', (c) => c.json({ endpoints: options.endpoints() }))
    .get('/readyz', (c) => {
      const reason = options.notReady()
      if (!reason) return c.json({ ready: true as const })
      const { code, message, ...details } = reason
      return c.json(errorBody(code, message, details), 503)
    })
    .get('/metrics', async (c) =>
      c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
    )
    .route('/v1/docs', versionRoutes(options.versions, options))
    .route('/v1/docs', docRoutes(docs, options))
    .route('/v1/changes', changeRoutes(options.changes, { access: options.access, keepaliveMs: changeKeepaliveMs }))
    .route('/', openApiRoutes())
    .route('/', webRoutes())

  app.notFound((c) =>
    c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404),
  )
  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(err.body(), err.status)
    if (err instanceof HTTPException) {
      if (err.res) return err.getResponse()
      return c.json(errorBody('bad_request', err.message), err.status)
    }
    log.error({ err, method: c.req.method, path: c.req.path }, 'request failed')
    return c.json(errorBody('internal', 'internal server error'), 500)
  })
  return app
}

/** Every route of a node's HTTP API, for `hc` clients (`syncmesh/client`'s admin client). */
export type NodeApi = ReturnType<typeof createApp>
