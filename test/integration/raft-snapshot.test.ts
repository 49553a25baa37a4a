import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { connectSynced, destroyProviders } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { TcpProxy, closeAllProxies } from '../helpers/tcp-proxy.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const common = { adminToken: 'snapshot-test-token', clusterSecret: 'snapshot-test-cluster-secret', raftTickMs: 20 }

const admin = (node: { url: string }, method: string, path: string, body?: unknown) =>
  fetch(`${node.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${common.adminToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })

afterEach(async () => {
  destroyProviders()
  await closeTestNodes()
  await closeAllProxies()
  removeTempDirs()
})

test('a node that joins after the log was compacted receives the metadata as a snapshot over the peer link', async () => {
  const n1 = await startTestNode({ ...common, id: 'n1', raftSnapshotEntries: 5 })
  await waitFor('n1 to lead', () => n1.cluster().leader === 'n1')
  for (let i = 0; i < 12; i++) {
    const res = await fetch(`${n1.url}/v1/namespaces/ns${i}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${common.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ schema: { roots: { body: 'text' } } }),
    })
    expect(res.status).toBe(200)
  }
  const n2 = await startTestNode({ ...common, id: 'n2', join: n1.url })
  await waitFor('n2 to hold the metadata', () => n2.cluster().members.length === 2 && n2.cluster().leader === 'n1')
  const namespaces = await fetch(`${n2.url}/v1/namespaces`, { headers: { authorization: `Bearer ${common.adminToken}` } })
  const names = ((await namespaces.json()) as { namespaces: { name: string }[] }).namespaces.map((n) => n.name)
  expect(names).toHaveLength(12)
  expect(n2.cluster().commitIndex).toBe(n1.cluster().commitIndex)
})

test('a node that missed a deletion and learns of it in a snapshot drops the document and closes its sessions', async () => {
  const n1 = await startTestNode({ ...common, id: 'n1', raftSnapshotEntries: 5 })
  await waitFor('n1 to lead', () => n1.cluster().leader === 'n1')
  const n2 = await startTestNode({ ...common, id: 'n2', join: n1.url, raftSnapshotEntries: 5 })
  const n3Dir = tempDir()
  let n3 = await startTestNode({ ...common, id: 'n3', join: n1.url, dataDir: n3Dir, raftSnapshotEntries: 5 })
  await waitFor('three voters', () => n1.cluster().members.filter((m) => m.role === 'voter').length === 3, 30_000)
  const doc = new Y.Doc()
  doc.getText('body').insert(0, 'to be deleted')
  expect((await fetch(`${n1.url}/v1/docs/doomed/update`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Y.encodeStateAsUpdate(doc) })).status).toBe(204)
  await waitFor('n3 to hold the document', () => n3.docs.meta('doomed') !== undefined)

  await n3.close()
  expect((await admin(n1, 'DELETE', '/v1/docs/doomed')).status).toBe(200)
  for (let i = 0; i < 12; i++) expect((await admin(n1, 'PUT', `/v1/namespaces/after${i}`, { schema: { roots: { body: 'text' } } })).status).toBe(200)

  n3 = await startTestNode({ ...common, id: 'n3', dataDir: n3Dir, raftSnapshotEntries: 5 })
  expect(n3.docs.meta('doomed')).toBeDefined()
  const reader = await connectSynced(n3.url, 'doomed')
  const closed = new Promise<{ code: number }>((resolve) => reader.on('connection-close', (event: { code: number } | null) => event && resolve(event)))
  await waitFor('n3 to catch up from a snapshot', () => n3.cluster().commitIndex >= n1.cluster().commitIndex, 30_000)
  expect((await closed).code).toBe(4410)
  await waitFor('n3 to drop the deleted document', () => n3.docs.meta('doomed') === undefined)
  expect(n2.docs.meta('doomed')).toBeUndefined()
})

test('a node added before a deletion and caught up by a snapshot that holds it records the deletion, for its webhooks', async () => {
  // Both ends of the peer link run through proxies, cut until the log has moved on without n2.
  const toN2 = await TcpProxy.start()
  const toN1 = await TcpProxy.start()
  toN2.cut()
  toN1.cut()
  const n1 = await startTestNode({ ...common, id: 'n1', raftSnapshotEntries: 5, peerRoutes: { n2: toN2.url } })
  await waitFor('n1 to lead', () => n1.cluster().leader === 'n1')
  toN1.setTarget({ host: '127.0.0.1', port: Number(new URL(n1.url).port) })
  const n2 = await startTestNode({ ...common, id: 'n2', join: n1.url, raftSnapshotEntries: 5, peerRoutes: { n1: toN1.url } })
  toN2.setTarget({ host: '127.0.0.1', port: Number(new URL(n2.url).port) })
  await waitFor('n1 to have added n2', () => n1.cluster().members.some((m) => m.id === 'n2'))

  // Written and deleted on n1 alone, after n2 was added: n2 never holds it.
  const doc = new Y.Doc()
  doc.getText('body').insert(0, 'never reaches n2')
  expect((await fetch(`${n1.url}/v1/docs/gone/update`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Y.encodeStateAsUpdate(doc) })).status).toBe(204)
  expect((await admin(n1, 'DELETE', '/v1/docs/gone')).status).toBe(200)
  for (let i = 0; i < 12; i++) expect((await admin(n1, 'PUT', `/v1/namespaces/after${i}`, { schema: { roots: { body: 'text' } } })).status).toBe(200)

  toN2.heal()
  toN1.heal()
  await waitFor('n2 to catch up', () => n2.cluster().commitIndex >= n1.cluster().commitIndex && n2.cluster().members.length === 2, 30_000)
  const changes = async (node: { url: string }) =>
    ((await (await admin(node, 'GET', '/v1/changes')).json()) as { changes: { type: string; name: string }[] }).changes
  await waitFor('the deletion in n2\'s change feed', async () => (await changes(n2)).some((c) => c.type === 'deleted' && c.name === 'gone'))
})
