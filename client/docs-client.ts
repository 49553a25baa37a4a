/** A typed client for a node's document REST API (`/v1/docs…`). Needs only `fetch`. */

export interface DocSummary {
  name: string
  sizeBytes: number
  /** ISO 8601 time of the last durable update. */
  updatedAt: string
}

export interface DocPage {
  docs: DocSummary[]
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null
}

export type RootKind = 'text' | 'map' | 'array' | 'xml'

/** A non-2xx answer, carrying the API's `{"error":{"code","message"}}`. */
export class SyncmeshApiError extends Error {
  override name = 'SyncmeshApiError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export interface DocsClientOptions {
  /** The node's base URL, e.g. `http://127.0.0.1:4000`. */
  url: string
  fetch?: typeof fetch
}

export function createDocsClient(options: DocsClientOptions) {
  const base = options.url.replace(/\/+$/, '')
  const fetchImpl = options.fetch ?? fetch
  const docUrl = (name: string, suffix = '') => `${base}/v1/docs/${encodeURIComponent(name)}${suffix}`

  async function request(url: string, init?: RequestInit): Promise<Response> {
    const res = await fetchImpl(url, init)
    if (res.ok) return res
    const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null
    throw new SyncmeshApiError(res.status, body?.error?.code ?? 'http_error', body?.error?.message ?? res.statusText)
  }

  return {
    /** One page of document names, in order. */
    async list(query: { prefix?: string; limit?: number; cursor?: string } = {}): Promise<DocPage> {
      const params = new URLSearchParams()
      if (query.prefix !== undefined) params.set('prefix', query.prefix)
      if (query.limit !== undefined) params.set('limit', String(query.limit))
      if (query.cursor !== undefined) params.set('cursor', query.cursor)
      return (await (await request(`${base}/v1/docs?${params}`)).json()) as DocPage
    },

    /** Every document whose name starts with `prefix`, fetching pages as needed. */
    async *listAll(prefix = '', pageSize = 500): AsyncGenerator<DocSummary> {
      let cursor: string | undefined
      do {
        const page = await this.list({ prefix, limit: pageSize, ...(cursor === undefined ? {} : { cursor }) })
        yield* page.docs
        cursor = page.nextCursor ?? undefined
      } while (cursor !== undefined)
    },

    /** The document as a Yjs v1 update, or only what `stateVector` lacks. */
    async readUpdate(name: string, stateVector?: Uint8Array): Promise<Uint8Array> {
      const sv = stateVector ? `?sv=${encodeURIComponent(btoa(String.fromCharCode(...stateVector)))}` : ''
      return new Uint8Array(await (await request(docUrl(name, `/update${sv}`))).arrayBuffer())
    },

    /** Applies a Yjs v1 update; resolves once the node has made it durable. */
    async writeUpdate(name: string, update: Uint8Array): Promise<void> {
      await request(docUrl(name, '/update'), {
        method: 'POST',
        body: update as Uint8Array<ArrayBuffer>,
        headers: { 'content-type': 'application/octet-stream' },
      })
    },

    /** The document as JSON; `types` names root kinds where inference is not wanted. */
    async readJson(name: string, types: Record<string, RootKind> = {}): Promise<Record<string, unknown>> {
      const entries = Object.entries(types).map(([root, kind]) => `${root}:${kind}`)
      const query = entries.length > 0 ? `?types=${encodeURIComponent(entries.join(','))}` : ''
      return (await (await request(docUrl(name, query))).json()) as Record<string, unknown>
    },
  }
}

export type DocsClient = ReturnType<typeof createDocsClient>
