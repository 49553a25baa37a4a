import * as Y from 'yjs'
import type { z } from 'zod'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { writeText } from '../helpers/rest-writes.js'
import { routeCatalog, type RouteDoc } from '../../src/http/openapi/route-catalog.js'
import { errorAnswer } from '../../src/http/openapi/answers.js'
import { openApiPath } from '../../src/http/openapi/openapi-document.js'
import type { SyncmeshNode } from '../../src/node.js'
import { Validator } from '@seriousme/openapi-schema-validator'

/*
 * The OpenAPI document against the app itself: every route the app serves is in it and nothing else is, and
 * every answer of every route — to requests that work and to requests that must not — has a status, content
 * type and (for JSON) a body the document gives that route.
 */

const adminToken = 'openapi-test-admin-token'
let node: SyncmeshNode
let document: any
let webhookId: string
let versionId: string

beforeAll(async () => {
  node = await startTestNode({ adminToken })
  document = await (await fetch(`${node.url}/v1/openapi.json`)).json()
  for (const name of ['team/notes', 'team/plans']) expect(await writeText(node.url, name, 'described')).toBe(204)
  const hook = await fetch(`${node.url}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'http://127.0.0.1:9/never', events: ['deleted'], prefix: 'none/' }),
  })
  webhookId = ((await hook.json()) as { id: string }).id
  const version = await fetch(`${node.url}/v1/docs/team/notes/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ label: 'described' }),
  })
  versionId = ((await version.json()) as { id: string }).id
})

afterAll(async () => {
  await closeTestNodes()
  removeTempDirs()
})

const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`
const routeOf = new Map(routeCatalog.map((route) => [key(route.method, route.path), route]))

test('the document is valid OpenAPI 3.1, and names exactly the routes the app serves', async () => {
  const validator = new Validator()
  const validation = await validator.validate(structuredClone(document))
  expect(validation.errors ?? null).toBeNull()
  expect(validator.version).toBe('3.1')
  expect(document.components.schemas.Error).toMatchObject({ type: 'object', required: ['error'] })
  const served = new Set(node.httpRoutes.map((route) => key(route.method, openApiPath(route.path))))
  const documented = new Set<string>()
  for (const [path, operations] of Object.entries(document.paths as Record<string, object>)) {
    for (const method of Object.keys(operations)) documented.add(key(method, path))
  }
  expect([...served].filter((route) => !documented.has(route)), 'served but not documented').toEqual([])
  expect([...documented].filter((route) => !served.has(route)), 'documented but not served').toEqual([])
})

interface Probe {
  /** The catalog route it exercises, as `GET /v1/docs/:name`. */
  route: string
  path: string
  method?: string
  admin?: boolean | 'wrong'
  headers?: Record<string, string>
  body?: Uint8Array | string
  json?: unknown
  /** An event stream: only its status and content type are read. */
  stream?: boolean
}

/** Requests that work, and requests that must be refused, for every route (some destructive ones last). */
function probes(): Probe[] {
  const update = () => {
    const doc = new Y.Doc()
    doc.getText('body').insert(0, 'more')
    return Y.encodeStateAsUpdate(doc)
  }
  const binary = { 'content-type': 'application/octet-stream' }
  return [
    { route: 'GET /healthz', path: '/healthz' },
    { route: 'GET /readyz', path: '/readyz' },
    { route: 'GET /metrics', path: '/metrics' },
    { route: 'GET /v1/endpoints', path: '/v1/endpoints' },
    { route: 'GET /v1/openapi.json', path: '/v1/openapi.json' },
    { route: 'GET /docs', path: '/docs' },
    { route: 'GET /docs/assets/:file', path: '/docs/assets/swagger-ui.css' },
    { route: 'GET /docs/assets/:file', path: '/docs/assets/index.html' },
    { route: 'GET /', path: '/' },
    { route: 'GET /admin', path: '/admin' },
    { route: 'GET /assets/:file', path: '/assets/admin.css' },
    { route: 'GET /assets/:file', path: '/assets/nothing.js' },
    { route: 'GET /v1/docs', path: '/v1/docs?prefix=team/&limit=5' },
    { route: 'GET /v1/docs', path: '/v1/docs?limit=1' },
    { route: 'GET /v1/docs', path: '/v1/docs?limit=0' },
    { route: 'GET /v1/docs', path: '/v1/docs?cursor=forged' },
    { route: 'GET /v1/docs/:name', path: '/v1/docs/team/notes?types=body:text' },
    { route: 'GET /v1/docs/:name', path: '/v1/docs/team%2Fnobody' },
    { route: 'GET /v1/docs/:name', path: '/v1/docs/team/notes?types=body:tree' },
    { route: 'GET /v1/docs/:name/update', path: '/v1/docs/team%2Fnotes/update' },
    { route: 'GET /v1/docs/:name/update', path: '/v1/docs/team/notes/update?sv=!!' },
    { route: 'GET /v1/docs/:name/update', path: '/v1/docs/nobody/update' },
    { route: 'POST /v1/docs/:name/update', path: '/v1/docs/team/notes/update', method: 'POST', headers: binary, body: update() },
    { route: 'POST /v1/docs/:name/update', path: '/v1/docs/team/notes/update', method: 'POST', headers: binary, body: new Uint8Array([1, 2, 3]) },
    { route: 'POST /v1/docs/:name/update', path: '/v1/docs/team/notes/update', method: 'POST', json: {} },
    { route: 'GET /v1/docs/:name/versions', path: '/v1/docs/team/notes/versions' },
    { route: 'GET /v1/docs/:name/versions', path: `/v1/docs/${'x'.repeat(600)}/versions` },
    { route: 'POST /v1/docs/:name/versions', path: '/v1/docs/team/notes/versions', method: 'POST', json: { label: 'probe' } },
    { route: 'POST /v1/docs/:name/versions', path: '/v1/docs/team/notes/versions', method: 'POST', json: { label: '' } },
    { route: 'POST /v1/docs/:name/versions', path: '/v1/docs/nobody/versions', method: 'POST', json: { label: 'none' } },
    { route: 'GET /v1/docs/:name/versions/:id', path: `/v1/docs/team/notes/versions/${versionId}?types=body:text` },
    { route: 'GET /v1/docs/:name/versions/:id', path: '/v1/docs/team/notes/versions/v_00000000000000000000' },
    { route: 'GET /v1/docs/:name/versions/:id', path: '/v1/docs/team/notes/versions/nope' },
    { route: 'GET /v1/docs/:name/versions/:id/update', path: `/v1/docs/team%2Fnotes/versions/${versionId}/update` },
    { route: 'GET /v1/docs/:name/versions/:id/update', path: '/v1/docs/nobody/versions/v_00000000000000000000/update' },
    { route: 'GET /v1/docs/:name/versions/:id/diff/:to', path: `/v1/docs/team/notes/versions/${versionId}/diff/current` },
    { route: 'GET /v1/docs/:name/versions/:id/diff/:to', path: `/v1/docs/team/notes/versions/${versionId}/diff/yesterday` },
    { route: 'POST /v1/docs/:name/versions/:id/restore', path: `/v1/docs/team/notes/versions/${versionId}/restore`, method: 'POST' },
    { route: 'POST /v1/docs/:name/versions/:id/restore', path: '/v1/docs/team/notes/versions/v_00000000000000000000/restore', method: 'POST' },
    { route: 'GET /v1/changes', path: '/v1/changes?limit=2' },
    { route: 'GET /v1/changes', path: '/v1/changes?since=nonsense' },
    { route: 'GET /v1/changes', path: '/v1/changes', headers: { accept: 'text/event-stream' }, stream: true },
    { route: 'GET /v1/changes', path: '/v1/changes?since=00000000-7' },
    { route: 'GET /v1/changes', path: '/v1/changes?wait=2m' },
    { route: 'GET /v1/cluster', path: '/v1/cluster', admin: true },
    { route: 'GET /v1/cluster', path: '/v1/cluster?consistent=true', admin: true },
    { route: 'GET /v1/cluster', path: '/v1/cluster' },
    { route: 'GET /v1/cluster', path: '/v1/cluster', admin: 'wrong' },
    { route: 'POST /v1/cluster/members', path: '/v1/cluster/members', method: 'POST', admin: true, json: { id: 'test', url: 'http://127.0.0.1:9' } },
    { route: 'POST /v1/cluster/members', path: '/v1/cluster/members', method: 'POST', admin: true, json: { id: 'spare', url: 'http://127.0.0.1:9' } },
    { route: 'POST /v1/cluster/members', path: '/v1/cluster/members', method: 'POST', admin: true, json: { id: '' } },
    { route: 'POST /v1/cluster/members', path: '/v1/cluster/members', method: 'POST', admin: true, headers: { 'content-type': 'application/json' }, body: '{' },
    { route: 'DELETE /v1/cluster/members/:id', path: '/v1/cluster/members/nobody', method: 'DELETE', admin: true },
    { route: 'DELETE /v1/cluster/members/:id', path: '/v1/cluster/members/spare', method: 'DELETE', admin: true },
    { route: 'POST /v1/cluster/leader', path: '/v1/cluster/leader', method: 'POST', admin: true, json: { to: 'nobody' } },
    { route: 'POST /v1/cluster/leader', path: '/v1/cluster/leader', method: 'POST', admin: true },
    { route: 'POST /v1/cluster/leader', path: '/v1/cluster/leader', method: 'POST', admin: true, json: { to: 'test' } },
    { route: 'GET /v1/namespaces', path: '/v1/namespaces', admin: true },
    { route: 'GET /v1/namespaces', path: '/v1/namespaces' },
    { route: 'PUT /v1/namespaces/:ns', path: '/v1/namespaces/team', method: 'PUT', admin: true, json: { schema: { roots: { body: 'text' } } } },
    { route: 'PUT /v1/namespaces/:ns', path: '/v1/namespaces/team', method: 'PUT', admin: true, json: { schema: { roots: { body: 'tree' } } } },
    { route: 'PUT /v1/namespaces/:ns', path: '/v1/namespaces/team', method: 'PUT', admin: true, headers: { 'idempotency-key': ' ' }, json: { schema: { roots: {} } } },
    { route: 'GET /v1/webhooks', path: '/v1/webhooks', admin: true },
    { route: 'POST /v1/webhooks', path: '/v1/webhooks', method: 'POST', admin: true, json: { url: 'http://127.0.0.1:9/two', events: ['updated'] } },
    { route: 'POST /v1/webhooks', path: '/v1/webhooks', method: 'POST', admin: true, json: { url: 'ftp://x', events: [] } },
    { route: 'GET /v1/webhooks/:id', path: `/v1/webhooks/${webhookId}`, admin: true },
    { route: 'GET /v1/webhooks/:id', path: '/v1/webhooks/wh_00000000000000000000', admin: true },
    { route: 'GET /v1/webhooks/:id', path: '/v1/webhooks/not-an-id', admin: true },
    { route: 'GET /v1/webhooks/:id/deliveries', path: `/v1/webhooks/${webhookId}/deliveries?status=failed&limit=10`, admin: true },
    { route: 'GET /v1/webhooks/:id/deliveries', path: `/v1/webhooks/${webhookId}/deliveries?status=lost`, admin: true },
    { route: 'GET /v1/webhooks/:id/deliveries', path: '/v1/webhooks/wh_00000000000000000000/deliveries', admin: true },
    { route: 'GET /v1/backup', path: '/v1/backup', admin: true },
    { route: 'GET /v1/backup', path: '/v1/backup' },
    { route: 'DELETE /v1/webhooks/:id', path: `/v1/webhooks/${webhookId}`, method: 'DELETE', admin: true },
    { route: 'DELETE /v1/webhooks/:id', path: `/v1/webhooks/${webhookId}`, method: 'DELETE', admin: true },
    { route: 'DELETE /v1/namespaces/:ns', path: '/v1/namespaces/team', method: 'DELETE', admin: true },
    { route: 'DELETE /v1/namespaces/:ns', path: '/v1/namespaces/nobody', method: 'DELETE', admin: true },
    { route: 'DELETE /v1/docs/:name', path: '/v1/docs/team/notes', method: 'DELETE', admin: true },
    { route: 'DELETE /v1/docs/:name', path: '/v1/docs/team/notes', method: 'DELETE' },
    { route: 'GET /v1/docs/:name', path: '/v1/docs/team/notes' },
    { route: 'POST /v1/docs/:name/update', path: '/v1/docs/team/notes/update', method: 'POST', headers: binary, body: update() },
  ]
}

describe('every answer is one the document gives its route', () => {
  test('for requests that work and requests that are refused', async () => {
    const seen = new Map<string, Set<number>>()
    for (const probe of probes()) {
      const route = routeOf.get(probe.route)
      expect(route, probe.route).toBeDefined()
      const headers: Record<string, string> = { ...probe.headers }
      if (probe.admin) headers.authorization = `Bearer ${probe.admin === 'wrong' ? 'not-the-admin-token' : adminToken}`
      if (probe.json !== undefined) headers['content-type'] = 'application/json'
      const stop = new AbortController()
      const res = await fetch(node.url + probe.path, {
        signal: stop.signal,
        method: probe.method ?? 'GET',
        headers,
        ...(probe.json !== undefined ? { body: JSON.stringify(probe.json) } : probe.body !== undefined ? { body: probe.body } : {}),
      })
      const what = `${probe.method ?? 'GET'} ${probe.path} → ${res.status}`
      const operation = document.paths[openApiPath(route!.path)][route!.method]
      expect(Object.keys(operation.responses), what).toContain(String(res.status))
      const documented = operation.responses[String(res.status)].content as Record<string, unknown> | undefined
      const type = res.headers.get('content-type')?.split(';')[0]?.trim()
      seen.set(probe.route, (seen.get(probe.route) ?? new Set()).add(res.status))
      if (probe.stream) {
        expect(Object.keys(documented ?? {}), what).toContain(type)
        stop.abort()
        continue
      }
      if (documented === undefined) expect(await res.arrayBuffer(), what).toHaveProperty('byteLength', 0)
      else expect(Object.keys(documented), what).toContain(type)
      const schema = schemaOf(route!, res.status)
      if (type === 'application/json' && schema) expectMatches(schema, await res.json(), what)
      else await res.arrayBuffer()
    }
    // Each route was answered, and each with its success status at least once.
    const neverSucceeded = routeCatalog.filter((route) => ![...(seen.get(key(route.method, route.path)) ?? [])].some((status) => String(status) in route.answers))
    expect(neverSucceeded.map((route) => key(route.method, route.path))).toEqual([])
  })
})

/** The schema of the route's answer with `status`; null for JSON the document describes otherwise (itself). */
function schemaOf(route: RouteDoc, status: number): z.ZodType | null {
  const answer = route.answers[status]
  return answer ? (answer.json ?? null) : errorAnswer
}

function expectMatches(schema: z.ZodType, body: unknown, what: string): void {
  const parsed = schema.safeParse(body)
  expect(parsed.success ? null : { body, issues: parsed.error.issues }, what).toBeNull()
}
