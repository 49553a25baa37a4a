import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import type { SyncmeshNode } from '../../src/node.js'
import { connect, connectSynced, destroyProviders } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { sleep, waitFor } from '../helpers/wait.js'

const adminToken = 'test-admin-token'

afterEach(async () => {
  destroyProviders()
  await closeTestNodes()
  removeTempDirs()
})

function admin(node: SyncmeshNode, method: string, path: string, body?: unknown, token = adminToken) {
  return fetch(`${node.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
}

async function nodeWithNamespace(): Promise<SyncmeshNode> {
  const node = await startTestNode({ adminToken })
  await waitFor('the node to lead its one-node cluster', () => node.cluster().leader === 'test')
  const res = await admin(node, 'PUT', '/v1/namespaces/notes', {
    schema: { roots: { body: 'text', meta: 'map' } },
    limits: { maxUpdateBytes: 4096 },
  })
  expect(res.status).toBe(200)
  return node
}

function closeEvent(provider: ReturnType<typeof connect>): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => provider.on('connection-close', (event: { code: number; reason: string } | null) => event && resolve(event)))
}

test('an update creating a root the namespace does not declare closes the client with 4403 and stores nothing', async () => {
  const node = await nodeWithNamespace()
  const writer = await connectSynced(node.url, 'notes/a')
  writer.doc.getText('body').insert(0, 'allowed')
  await waitFor('the allowed edit to be stored', () => node.docs.withDoc('notes/a', (d) => d.getText('body').toString()) === 'allowed')
  const before = node.docs.readUpdate('notes/a')
  const closed = closeEvent(writer)
  writer.doc.getArray('undeclared').push(['x'])
  expect(await closed).toMatchObject({ code: 4403 })
  expect((await closed).reason).toMatch(/undeclared/)
  expect(node.docs.readUpdate('notes/a')).toEqual(before)
})

test('a root of another kind than declared is refused (4403), and an update over the limit is too large (4413)', async () => {
  const node = await nodeWithNamespace()
  const wrongKind = connect(node.url, 'notes/b')
  const closedKind = closeEvent(wrongKind)
  wrongKind.doc.getMap('body').set('k', 'v')
  expect(await closedKind).toMatchObject({ code: 4403 })

  const big = connect(node.url, 'notes/c')
  const closedBig = closeEvent(big)
  big.doc.getText('body').insert(0, 'x'.repeat(10_000))
  expect(await closedBig).toMatchObject({ code: 4413 })

  const doc = new Y.Doc()
  doc.getText('body').insert(0, 'y'.repeat(10_000))
  const rest = await fetch(`${node.url}/v1/docs/notes%2Fd/update`, {
    method: 'POST',
    body: Y.encodeStateAsUpdate(doc),
    headers: { 'content-type': 'application/octet-stream' },
  })
  expect(rest.status).toBe(413)
  expect(((await rest.json()) as { error: { code: string } }).error.code).toBe('update_too_large')
})

test('deleting a document closes its sessions with 4410, drops its data and refuses later writes', async () => {
  const node = await nodeWithNamespace()
  const writer = await connectSynced(node.url, 'notes/doomed')
  writer.doc.getText('body').insert(0, 'soon gone')
  await waitFor('the edit to be stored', () => node.docs.meta('notes/doomed') !== undefined)
  const closed = closeEvent(writer)
  const res = await admin(node, 'DELETE', '/v1/docs/notes%2Fdoomed')
  expect(res.status).toBe(200)
  expect(await closed).toMatchObject({ code: 4410, reason: 'document deleted' })
  await waitFor('the data to be dropped', () => node.docs.meta('notes/doomed') === undefined)
  for (const route of ['', '/update']) {
    const read = await fetch(`${node.url}/v1/docs/notes%2Fdoomed${route}`)
    expect(read.status).toBe(410)
    expect(await read.json()).toEqual({ error: { code: 'deleted', message: 'document deleted' } })
  }

  const doc = new Y.Doc()
  doc.getText('body').insert(0, 'resurrect?')
  const again = await fetch(`${node.url}/v1/docs/notes%2Fdoomed/update`, {
    method: 'POST',
    body: Y.encodeStateAsUpdate(doc),
    headers: { 'content-type': 'application/octet-stream' },
  })
  expect(again.status).toBe(410)
  const late = connect(node.url, 'notes/doomed')
  const lateClosed = closeEvent(late)
  late.doc.getText('body').insert(0, 'still no')
  expect(await lateClosed).toMatchObject({ code: 4410 })
  expect(node.docs.meta('notes/doomed')).toBeUndefined()
})

test('admin routes need the admin token: 401 without, 403 with a wrong one', async () => {
  const node = await nodeWithNamespace()
  expect((await fetch(`${node.url}/v1/cluster`)).status).toBe(401)
  const wrong = await admin(node, 'GET', '/v1/cluster', undefined, 'not-the-token')
  expect(wrong.status).toBe(403)
  expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('forbidden')
  expect((await admin(node, 'DELETE', '/v1/docs/x', undefined, 'nope')).status).toBe(403)
  const ok = await admin(node, 'GET', '/v1/cluster?consistent=true')
  expect(ok.status).toBe(200)
  expect(await ok.json()).toMatchObject({ id: 'test', leader: 'test', members: [{ id: 'test', role: 'voter' }] })
  expect((await admin(node, 'PUT', '/v1/namespaces/bad', { schema: { roots: { x: 'tree' } } })).status).toBe(400)
  expect((await admin(node, 'DELETE', '/v1/namespaces/none')).status).toBe(404)
})

test('a write that would take a document past its namespace maxDocBytes is refused (413 doc_too_large)', async () => {
  const node = await startTestNode({ adminToken })
  await waitFor('the node to lead', () => node.cluster().leader === 'test')
  expect((await admin(node, 'PUT', '/v1/namespaces/small', { schema: { roots: { body: 'text' } }, limits: { maxDocBytes: 300 } })).status).toBe(200)
  const doc = new Y.Doc()
  const post = (update: Uint8Array) =>
    fetch(`${node.url}/v1/docs/small%2Fa/update`, { method: 'POST', body: update, headers: { 'content-type': 'application/octet-stream' } })
  let sv = Y.encodeStateVector(doc)
  doc.getText('body').insert(0, 'a'.repeat(100))
  expect((await post(Y.encodeStateAsUpdate(doc, sv))).status).toBe(204)
  sv = Y.encodeStateVector(doc)
  doc.getText('body').insert(0, 'b'.repeat(250))
  const refused = await post(Y.encodeStateAsUpdate(doc, sv))
  expect(refused.status).toBe(413)
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('doc_too_large')
})

test('maxDocBytes holds across one group commit: 50 updates of 10 KB sent at once store at most 100 KB', async () => {
  const node = await startTestNode({ adminToken })
  await waitFor('the node to lead its one-node cluster', () => node.cluster().leader === 'test')
  const maxDocBytes = 100 * 1024
  expect((await admin(node, 'PUT', '/v1/namespaces/capped', { schema: { roots: { blobs: 'array' } }, limits: { maxDocBytes } })).status).toBe(200)
  const writer = new Y.Doc()
  const updates: Uint8Array[] = []
  writer.on('update', (update: Uint8Array) => updates.push(update))
  for (let i = 0; i < 50; i++) writer.getArray('blobs').push(['x'.repeat(10 * 1024)])
  const statuses = await Promise.all(
    updates.map(async (update) => {
      const res = await fetch(`${node.url}/v1/docs/capped%2Fdoc/update`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: update,
      })
      return res.status
    }),
  )
  const meta = node.docs.meta('capped/doc')!
  expect(meta.baseBytes + meta.logBytes).toBeLessThanOrEqual(maxDocBytes)
  expect(statuses.filter((s) => s === 204).length).toBeGreaterThan(0)
  expect(statuses.filter((s) => s === 413).length).toBeGreaterThan(40)
  expect(statuses.every((s) => s === 204 || s === 413)).toBe(true)
})

test('a namespace turned read-only applies to sessions already open: their next change closes them 4403', async () => {
  const node = await nodeWithNamespace()
  const writer = await connectSynced(node.url, 'notes/live')
  writer.doc.getText('body').insert(0, 'before')
  await waitFor('the first edit to be stored', () => node.docs.withDoc('notes/live', (d) => d.getText('body').toString()) === 'before')
  const frozen = await admin(node, 'PUT', '/v1/namespaces/notes', { schema: { roots: { body: 'text', meta: 'map' } }, readOnly: true })
  expect(frozen.status).toBe(200)
  const closed = closeEvent(writer)
  writer.doc.getText('body').insert(0, 'after ')
  expect(await closed).toMatchObject({ code: 4403, reason: 'documents in this namespace are read-only' })
  expect(node.docs.withDoc('notes/live', (d) => d.getText('body').toString())).toBe('before')
})

test('writes racing a deletion never bring the document back: 64 REST writes and a client typing during DELETE', async () => {
  const node = await nodeWithNamespace()
  const name = 'notes/raced'
  const writer = await connectSynced(node.url, name)
  writer.doc.getText('body').insert(0, 'first')
  await waitFor('the first edit to be stored', () => node.docs.meta(name) !== undefined)
  const typing = setInterval(() => writer.doc.getText('body').insert(0, 'k'), 1)
  const posts = Array.from({ length: 64 }, (_, i) => {
    const doc = new Y.Doc()
    doc.getText('body').insert(0, `post ${i}`)
    return fetch(`${node.url}/v1/docs/notes%2Fraced/update`, {
      method: 'POST',
      body: Y.encodeStateAsUpdate(doc),
      headers: { 'content-type': 'application/octet-stream' },
    }).then((res) => res.status)
  })
  const deleted = admin(node, 'DELETE', '/v1/docs/notes%2Fraced')
  const statuses = await Promise.all(posts)
  expect((await deleted).status).toBe(200)
  clearInterval(typing)
  expect(statuses.every((status) => status === 204 || status === 410)).toBe(true)
  await waitFor('the data to be dropped', () => node.docs.meta(name) === undefined)
  // Long enough for any write queued before the tombstone to have been committed, or refused.
  await sleep(200)
  expect(node.docs.meta(name)).toBeUndefined()
  const listed = (await (await admin(node, 'GET', '/v1/docs?prefix=notes/')).json()) as { docs: { name: string }[] }
  expect(listed.docs.map((d) => d.name)).not.toContain(name)
})
