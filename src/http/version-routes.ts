import { Hono, type Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import * as Y from 'yjs'
import { z } from 'zod'
import { docToJson } from '../docs/doc-json.js'
import type { DocAccessControl } from '../auth/doc-access.js'
import type { HistoryRefusal, HistoryResult, VersionHistory } from '../history/version-history.js'
import { diffVersions } from '../history/version-content.js'
import { maxLabelLength, versionIdSchema, versionView } from '../history/version-records.js'
import { ApiError } from './api-error.js'
import { limitBody } from './body-limit.js'
import { allowedDoc, docJsonQuery, statusFor } from './doc-routes.js'
import { subjectOf } from './principal.js'
import { jsonBody, queryParams } from './validate.js'

export interface VersionRoutesOptions {
  access: DocAccessControl
  isDeleted(name: string): boolean
}

export const createVersionBody = z.object({ label: z.string().trim().min(1).max(maxLabelLength) })

/** What a diff may compare: a version, or `current`, the document as it is now. */
const currentState = 'current'

const refusalStatus: Record<HistoryRefusal['reason'], ContentfulStatusCode> = {
  ...statusFor,
  doc_not_found: 404,
  version_not_found: 404,
  history_disabled: 409,
  version_incomplete: 503,
}

function valueOf<T>(result: HistoryResult<T>): T {
  if (result.ok) return result.value
  throw new ApiError(refusalStatus[result.reason], result.reason, result.message)
}

function versionId(c: Context, param: string): string {
  const id = c.req.param(param) ?? ''
  if (!versionIdSchema.safeParse(id).success) throw new ApiError(400, 'invalid_version_id', `${param}: not a version id (v_ and 20 hex digits)`)
  return id
}

/** Version routes under /v1/docs/:name/versions: reading needs read access to the document, making and restoring write access. */
export function versionRoutes(history: VersionHistory, options: VersionRoutesOptions) {
  return new Hono()
    .get('/:name/versions', async (c) => {
      const name = await allowedDoc(c, options, 'read')
      return c.json({ versions: history.list(name).map(versionView) })
    })

    .post('/:name/versions', limitBody(64 * 1024), jsonBody(createVersionBody), async (c) => {
      const name = await allowedDoc(c, options, 'write')
      const { label } = c.req.valid('json')
      const made = valueOf(await history.create(name, { kind: 'named', label, by: await subjectOf(c, options.access), editors: [] }))
      // A named version is retired at once only by a retention of age 0, which the settings do not allow.
      if (!made) throw new ApiError(409, 'history_disabled', 'the version was retired by its retention at once')
      return c.json(versionView(made), 201)
    })

    .get('/:name/versions/:id', queryParams(docJsonQuery), async (c) => {
      const name = await allowedDoc(c, options, 'read')
      const kinds = c.req.valid('query').types ?? {}
      return c.json(valueOf(history.read(name, versionId(c, 'id'), (version) => docToJson(version, kinds))))
    })

    .get('/:name/versions/:id/update', async (c) => {
      const name = await allowedDoc(c, options, 'read')
      const update = valueOf(history.read(name, versionId(c, 'id'), (version) => Y.encodeStateAsUpdate(version)))
      return c.body(update as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/octet-stream' })
    })

    .get('/:name/versions/:id/diff/:to', queryParams(docJsonQuery), async (c) => {
      const name = await allowedDoc(c, options, 'read')
      const kinds = c.req.valid('query').types ?? {}
      const from = versionId(c, 'id')
      const to = c.req.param('to') === currentState ? null : versionId(c, 'to')
      const roots = valueOf(history.compare(name, [from, to], (doc, [a, b]) => diffVersions(doc, a!, b!, kinds)))
      return c.json({ from, to: to ?? currentState, roots })
    })

    .post('/:name/versions/:id/restore', queryParams(docJsonQuery), async (c) => {
      const name = await allowedDoc(c, options, 'write')
      const kinds = c.req.valid('query').types ?? {}
      const by = await subjectOf(c, options.access)
      const { restored, before } = valueOf(await history.restore(name, versionId(c, 'id'), by, kinds))
      return c.json({ restored: versionView(restored), before: before && versionView(before) })
    })
}
