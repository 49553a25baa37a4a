import * as Y from 'yjs'
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { SyncmeshNode } from '../../src/node.js'
import { createDocsClient, SyncmeshApiError, type DocsClient } from '../../client/index.js'
import { connectSynced, destroyProviders } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

let node: SyncmeshNode
let api: DocsClient

beforeAll(async () => {
  node = await startTestNode()
  api = createDocsClient({ url: node.url })
})

afterAll(async () => {
  destroyProviders()
  await closeTestNodes()
  removeTempDirs()
})

const docUrl = (name: string, suffix = '') => `${node.url}/v1/docs/${encodeURIComponent(name)}${suffix}`

async function postUpdate(name: string, update: Uint8Array): Promise<Response> {
  return fetch(docUrl(name, '/update'), {
    method: 'POST',
    body: update,
    headers: { 'content-type': 'application/octet-stream' },
  })
}

function textUpdate(text: string): { doc: Y.Doc; update: Uint8Array } {
  const doc = new Y.Doc()
  doc.getText('body').insert(0, text)
  doc.getMap('meta').set('title', text.toUpperCase())
  return { doc, update: Y.encodeStateAsUpdate(doc) }
}

test('GET /healthz and /readyz answer ok', async () => {
  const res = await fetch(`${node.url}/healthz`)
  expect(res.status).toBe(200)
  expect(await res.json()).toEqual({ ok: true })
  expect(await (await fetch(`${node.url}/readyz`)).json()).toEqual({ ready: true })
})

test('POST an update: 204 once durable, then connected clients hold it', async () => {
  const client = await connectSynced(node.url, 'team/notes')
  const { update } = textUpdate('from rest')
  const res = await postUpdate('team/notes', update)
  expect(res.status).toBe(204)
  expect(node.docs.meta('team/notes')!.logUpdates).toBe(1)
  await waitFor('the broadcast', () => client.doc.getText('body').toString() === 'from rest')
})

test('GET the update: the full state, or only what a state vector lacks', async () => {
  const { doc, update } = textUpdate('abc')
  await postUpdate('diffs', update)
  const full = await fetch(docUrl('diffs', '/update'))
  expect(full.headers.get('content-type')).toBe('application/octet-stream')
  const copy = new Y.Doc()
  Y.applyUpdate(copy, new Uint8Array(await full.arrayBuffer()))
  expect(copy.getText('body').toString()).toBe('abc')

  doc.getText('body').insert(3, 'def')
  await postUpdate('diffs', Y.encodeStateAsUpdate(doc, Y.encodeStateVector(copy)))
  const sv = Buffer.from(Y.encodeStateVector(copy)).toString('base64')
  const diff = new Uint8Array(await (await fetch(docUrl('diffs', `/update?sv=${encodeURIComponent(sv)}`))).arrayBuffer())
  expect(diff.byteLength).toBeLessThan(Y.encodeStateAsUpdate(doc).byteLength)
  Y.applyUpdate(copy, diff)
  expect(copy.getText('body').toString()).toBe('abcdef')
})

test('GET the document as JSON, with kinds inferred or given by ?types=', async () => {
  await postUpdate('json', textUpdate('hello').update)
  expect(await (await fetch(docUrl('json'))).json()).toEqual({ body: 'hello', meta: { title: 'HELLO' } })
  const typed = await fetch(docUrl('json', '?types=body:text,meta:map,tags:array'))
  expect(await typed.json()).toEqual({ body: 'hello', meta: { title: 'HELLO' }, tags: [] })
})

test('GET /v1/docs lists names with size and last update, by prefix, a page at a time', async () => {
  for (const name of ['list/a', 'list/b', 'list/c', 'list/d', 'listless']) await api.writeUpdate(name, textUpdate(name).update)
  const first = await api.list({ prefix: 'list/', limit: 3 })
  expect(first.docs.map((d) => d.name)).toEqual(['list/a', 'list/b', 'list/c'])
  expect(first.docs[0]!.sizeBytes).toBeGreaterThan(0)
  expect(Date.now() - Date.parse(first.docs[0]!.updatedAt)).toBeLessThan(60_000)
  const second = await api.list({ prefix: 'list/', limit: 3, cursor: first.nextCursor! })
  expect(second.docs.map((d) => d.name)).toEqual(['list/d'])
  expect(second.nextCursor).toBeNull()
  const all: string[] = []
  for await (const doc of api.listAll('list', 2)) all.push(doc.name)
  expect(all).toEqual(['list/a', 'list/b', 'list/c', 'list/d', 'listless'])
})

test('the client SDK reads and writes updates and JSON, and reports API errors with their code', async () => {
  const { doc, update } = textUpdate('sdk')
  await api.writeUpdate('sdk/doc', update)
  expect(await api.readJson('sdk/doc', { body: 'text', tags: 'array' })).toEqual({
    body: 'sdk',
    meta: { title: 'SDK' },
    tags: [],
  })
  const sv = Y.encodeStateVector(doc)
  doc.getText('body').insert(3, '!')
  await api.writeUpdate('sdk/doc', Y.encodeStateAsUpdate(doc, sv))
  const copy = new Y.Doc()
  Y.applyUpdate(copy, await api.readUpdate('sdk/doc'))
  expect(copy.getText('body').toString()).toBe('sdk!')
  await expect(api.readUpdate('sdk/missing')).rejects.toMatchObject({ status: 404, code: 'doc_not_found' })
  await expect(api.writeUpdate('sdk/doc', Uint8Array.of(7))).rejects.toBeInstanceOf(SyncmeshApiError)
})

test('GET /metrics exports connections, loaded documents, updates, bytes, commit latency and evictions', async () => {
  const text = await (await fetch(`${node.url}/metrics`)).text()
  for (const name of [
    'syncmesh_connections',
    'syncmesh_loaded_docs',
    'syncmesh_updates_applied_total',
    'syncmesh_update_bytes_applied_total',
    'syncmesh_lmdb_commit_seconds_bucket',
    'syncmesh_evictions_total',
  ]) {
    expect(text).toContain(name)
  }
  expect(text).toMatch(/syncmesh_updates_applied_total [1-9]/)
})

test('a name with slashes works unencoded in REST paths, as in WebSocket URLs', async () => {
  const { doc, update } = textUpdate('plain slashes')
  const plain = await fetch(`${node.url}/v1/docs/team/plain/notes/update`, {
    method: 'POST',
    body: update,
    headers: { 'content-type': 'application/octet-stream' },
  })
  expect(plain.status).toBe(204)
  for (const path of ['/v1/docs/team/plain/notes/update', '/v1/docs/team%2Fplain%2Fnotes/update', '/v1/docs/team/plain%2Fnotes/update']) {
    const res = await fetch(node.url + path)
    expect(res.status, path).toBe(200)
    expect(Y.encodeStateVectorFromUpdate(new Uint8Array(await res.arrayBuffer()))).toEqual(Y.encodeStateVector(doc))
  }
  expect(await (await fetch(`${node.url}/v1/docs/team/plain/notes?types=body:text`)).json()).toMatchObject({ body: 'plain slashes' })
  // A name that ends with a route's word is written with that slash encoded; unencoded, the word is the route.
  expect((await postUpdate('team/update', update)).status).toBe(204)
  expect(await (await fetch(`${node.url}/v1/docs/team%2Fupdate?types=body:text`)).json()).toMatchObject({ body: 'plain slashes' })
  expect((await fetch(`${node.url}/v1/docs/team/update`)).status).toBe(404)
})
