import type { InferResponseType } from 'hono/client'
import { okOrThrow } from './api-error.js'
import { jsonOf, nodeApi, pathParam, type NodeApiClient, type NodeApiOptions } from './node-api.js'
import { followChanges, type ChangesOptions } from './change-feed.js'

type DocsApi = NodeApiClient['v1']['docs']
export type DocPage = InferResponseType<DocsApi['$get']>
export type DocSummary = DocPage['docs'][number]
export type RootKind = 'text' | 'map' | 'array' | 'xml'

/** `token`: a client token (or the admin token), where the node requires one. */
export type DocsClientOptions = NodeApiOptions

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes))

/**
 * A client for a node's document REST API (`/v1/docs…`), typed by the node's Hono app. Needs only `fetch`.
 * Non-2xx answers throw SyncmeshApiError.
 */
export function createDocsClient(options: DocsClientOptions) {
  const docs = nodeApi(options).v1.docs

  return {
    /** One page of document names, in order; only those the token may read. */
    list: (query: { prefix?: string; limit?: number; cursor?: string } = {}): Promise<DocPage> =>
      jsonOf(docs.$get({ query: { ...query, limit: query.limit === undefined ? undefined : String(query.limit) } })),

    /** Every document whose name starts with `prefix`, fetching pages as needed. */
    async *listAll(prefix = '', pageSize = 500): AsyncGenerator<DocSummary> {
      let cursor: string | undefined
      do {
        const page = await this.list({ prefix, limit: pageSize, ...(cursor !== undefined && { cursor }) })
        yield* page.docs
        cursor = page.nextCursor ?? undefined
      } while (cursor !== undefined)
    },

    /** The document as a Yjs v1 update, or only what `stateVector` lacks. */
    async readUpdate(name: string, stateVector?: Uint8Array): Promise<Uint8Array> {
      const query = stateVector ? { sv: base64(stateVector) } : {}
      const res = await okOrThrow(await docs[':name'].update.$get({ param: pathParam('name', name), query }))
      return new Uint8Array(await res.arrayBuffer())
    },

    /** Applies a Yjs v1 update; resolves once the node has made it durable. */
    async writeUpdate(name: string, update: Uint8Array): Promise<void> {
      await okOrThrow(
        await docs[':name'].update.$post(
          { param: pathParam('name', name) },
          { init: { body: update as Uint8Array<ArrayBuffer> }, headers: { 'content-type': 'application/octet-stream' } },
        ),
      )
    },

    /** The node's change feed, as an async iterator that resumes by itself (see followChanges). */
    changes: (changeOptions?: ChangesOptions) => followChanges(options, changeOptions),

    /** The document as JSON; `types` names root kinds where inference is not wanted. */
    readJson(name: string, types: Record<string, RootKind> = {}): Promise<Record<string, unknown>> {
      const entries = Object.entries(types).map(([root, kind]) => `${root}:${kind}`)
      return jsonOf(docs[':name'].$get({ param: pathParam('name', name), query: entries.length > 0 ? { types: entries.join(',') } : {} }))
    },
  }
}

export type DocsClient = ReturnType<typeof createDocsClient>
