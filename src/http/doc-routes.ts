import { limitBody } from './body-limit.js'
import { Hono, type Context } from 'hono'
import { z } from 'zod'
import type { ApplyResult, DocStore } from '../docs/doc-store.js'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { checkDocName } from '../docs/doc-name.js'
import { docToJson, rootKinds, type RootKind } from '../docs/doc-json.js'
import { ApiError } from './api-error.js'
import { queryParams } from './validate.js'
import type { DocAccessControl } from '../auth/doc-access.js'
import { principalOf, subjectOf } from './principal.js'
import { editedBy } from '../docs/edited-by.js'
import type { DocAccess } from '../auth/client-tokens.js'
import type { ListCursors } from './list-cursor.js'

export interface DocRoutesOptions {
  maxBodyBytes: number
  access: DocAccessControl
  listCursors: ListCursors
  /** Whether the document was deleted: its routes answer 410, as its WebSocket closes 4410. */
  isDeleted(name: string): boolean
}

/** Documents a listing looks at per page, beyond the page itself, looking for ones the caller may read. */
const listScanPerItem = 10
const listScanMin = 1_000

export const docListQuery = z.object({
  prefix: z.string().default(''),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional(),
})

const typesQuery = z
  .string()
  .transform((s) => s.split(',').filter((part) => part.length > 0))
  .pipe(
    z.array(
      z
        .string()
        .regex(new RegExp(`^[^:]+:(${rootKinds.join('|')})$`), 'each entry is <root>:<text|map|array|xml>'),
    ),
  )
  .transform((entries) => Object.fromEntries(entries.map((e) => e.split(':') as [string, RootKind])))
export const docJsonQuery = z.object({ types: typesQuery.optional() })
export const docUpdateQuery = z.object({ sv: z.string().optional() })

export const statusFor: Record<Exclude<ApplyResult, { ok: true }>['reason'], ContentfulStatusCode> = {
  invalid_update: 400,
  read_only: 403,
  undeclared_root: 403,
  wrong_root_kind: 403,
  deleted: 410,
  update_too_large: 413,
  doc_too_large: 413,
  storage_failed: 503,
  shutting_down: 503,
  not_a_member: 503,
}

function docName(c: Context): string {
  const checked = checkDocName(c.req.param('name') ?? '')
  if (!checked.ok) throw new ApiError(400, 'invalid_doc_name', checked.message)
  return checked.name
}

/** The checked document name of the route, once the request may have `wanted` access to it (and it is not deleted). */
export async function allowedDoc(c: Context, options: Pick<DocRoutesOptions, 'access' | 'isDeleted'>, wanted: DocAccess): Promise<string> {
  const name = docName(c)
  const decision = options.access.authorize(await principalOf(c, options.access), name, wanted)
  if (!decision.ok) throw new ApiError(decision.status, decision.code, decision.message)
  if (options.isDeleted(name)) throw new ApiError(410, 'deleted', 'document deleted')
  return name
}

function decodeBase64(value: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) throw new ApiError(400, 'invalid_query', `${what} is not base64`)
  return new Uint8Array(Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64'))
}

/** Document routes under /v1/docs: list, read as update or JSON, write an update. */
export function docRoutes(docs: DocStore, options: DocRoutesOptions) {
  const { access } = options

  return new Hono()
    .get('/', queryParams(docListQuery), async (c) => {
      const reader = await principalOf(c, access)
      const query = c.req.valid('query')
      const after = query.cursor === undefined ? undefined : options.listCursors.open(query.cursor)
      if (query.cursor !== undefined && after === undefined) throw new ApiError(400, 'invalid_query', 'cursor: not a cursor of this cluster')
      // Only what the caller may read. A page ends at `limit` documents, or once it has looked at its
      // share of documents the caller may not read: it may then hold fewer and still have a next one.
      const page = docs.scan(query.prefix, after, (name) => access.authorize(reader, name, 'read').ok, {
        limit: query.limit,
        scanLimit: Math.max(listScanMin, query.limit * listScanPerItem),
      })
      return c.json({
        docs: page.items.map(({ name, meta }) => ({
          name,
          sizeBytes: meta.baseBytes + meta.logBytes,
          /** ISO 8601 time of the last durable update. */
          updatedAt: new Date(meta.updatedAtMs).toISOString(),
        })),
        /** Pass as `cursor` for the next page; null on the last page. */
        nextCursor: page.resumeAfter === null ? null : options.listCursors.seal(page.resumeAfter),
      })
    })

    .get('/:name/update', queryParams(docUpdateQuery), async (c) => {
      const name = await allowedDoc(c, options, 'read')
      const { sv } = c.req.valid('query')
      let update: Uint8Array | undefined
      try {
        update = docs.readUpdate(name, sv === undefined ? undefined : decodeBase64(sv, 'sv'))
      } catch (err) {
        if (err instanceof ApiError) throw err
        throw new ApiError(400, 'invalid_state_vector', 'sv is not a Yjs state vector')
      }
      if (!update) throw new ApiError(404, 'doc_not_found', `no document named ${JSON.stringify(name)}`)
      return c.body(update as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/octet-stream' })
    })

    .post(
      '/:name/update',
      limitBody(options.maxBodyBytes),
      async (c) => {
        const name = await allowedDoc(c, options, 'write')
        const contentType = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase()
        if (contentType !== 'application/octet-stream') {
          throw new ApiError(400, 'not_binary', 'send the update as Content-Type: application/octet-stream')
        }
        const update = new Uint8Array(await c.req.arrayBuffer())
        const result = await docs.apply(name, update, editedBy(await subjectOf(c, options.access)))
        if (!result.ok) throw new ApiError(statusFor[result.reason], result.reason, result.message)
        return c.body(null, 204)
      },
    )

    .get('/:name', queryParams(docJsonQuery), async (c) => {
      const name = await allowedDoc(c, options, 'read')
      const kinds = c.req.valid('query').types ?? {}
      const json = docs.withDoc(name, (doc) => docToJson(doc, kinds))
      if (!json) throw new ApiError(404, 'doc_not_found', `no document named ${JSON.stringify(name)}`)
      return c.json(json)
    })
}
