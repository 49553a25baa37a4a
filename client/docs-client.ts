import type { InferResponseType } from 'hono/client'
import { okOrThrow } from './api-error.js'
import { jsonOf, nodeApi, pathParam, type NodeApiClient, type NodeApiOptions } from './node-api.js'
import { followChanges, type ChangesOptions } from './change-feed.js'

type DocsApi = NodeApiClient['v1']['docs']
type VersionsApi = DocsApi[':name']['versions']
export type DocPage = InferResponseType<DocsApi['$get']>
export type DocSummary = DocPage['docs'][number]
export type RootKind = 'text' | 'map' | 'array' | 'xml'
/** A saved state of a document: named (saved by someone) or automatic (after a quiet period, or before a restore). */
export type Version = InferResponseType<VersionsApi['$post'], 201>
/** What changed between two versions (or a version and `current`), per root that changed. */
export type VersionDiff = InferResponseType<VersionsApi[':id']['diff'][':to']['$get'], 200>
export type RootChange = VersionDiff['roots'][string]
/** `before`: the automatic version of the state just before the restore; null when that was the newest version already. */
export type RestoreResult = InferResponseType<VersionsApi[':id']['restore']['$post'], 200>

/** `token`: a client token (or the admin token), where the node requires one. */
export type DocsClientOptions = NodeApiOptions

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes))
/** The `?types=root:kind,…` query of the JSON routes. */
const typesQuery = (types: Record<string, RootKind>) => {
  const entries = Object.entries(types).map(([root, kind]) => `${root}:${kind}`)
  return entries.length > 0 ? { types: entries.join(',') } : {}
}

const versionParam = (name: string, id: string) => ({ ...pathParam('name', name), ...pathParam('id', id) })

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
      return jsonOf(docs[':name'].$get({ param: pathParam('name', name), query: typesQuery(types) }))
    },

    /** The document's versions, newest first. */
    versions: async (name: string): Promise<Version[]> =>
      (await jsonOf(docs[':name'].versions.$get({ param: pathParam('name', name) }))).versions,

    /** Saves the document as the node holds it now as a named version (needs write access); `by` is the token's subject. */
    saveVersion: (name: string, label: string): Promise<Version> =>
      jsonOf(docs[':name'].versions.$post({ param: pathParam('name', name), json: { label } })),

    /** A version as JSON, in the shape of readJson. */
    readVersion(name: string, id: string, types: Record<string, RootKind> = {}): Promise<Record<string, unknown>> {
      return jsonOf(docs[':name'].versions[':id'].$get({ param: versionParam(name, id), query: typesQuery(types) }))
    },

    /** A version as a Yjs v1 update, to load into a Y.Doc of its own. */
    async readVersionUpdate(name: string, id: string): Promise<Uint8Array> {
      const res = await okOrThrow(await docs[':name'].versions[':id'].update.$get({ param: versionParam(name, id) }))
      return new Uint8Array(await res.arrayBuffer())
    },

    /** What changed from version `from` to version `to`, or to the document as it is now (`'current'`). */
    diffVersions: (name: string, from: string, to: string | 'current' = 'current', types: Record<string, RootKind> = {}): Promise<VersionDiff> =>
      jsonOf(
        docs[':name'].versions[':id'].diff[':to'].$get({
          param: { ...pathParam('name', name), ...pathParam('id', from), ...pathParam('to', to) },
          query: typesQuery(types),
        }),
      ),

    /**
     * Makes the document show version `id` again (needs write access), by an ordinary update that every
     * connected client receives; the state before is kept as an automatic version, so a restore can be undone.
     */
    restoreVersion: (name: string, id: string, types: Record<string, RootKind> = {}): Promise<RestoreResult> =>
      jsonOf(docs[':name'].versions[':id'].restore.$post({ param: versionParam(name, id), query: typesQuery(types) })),
  }
}

export type DocsClient = ReturnType<typeof createDocsClient>
