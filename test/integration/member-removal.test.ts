import WebSocket from 'ws'
import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { createClient } from '../../client/index.js'
import { CloseCode } from '../../src/protocol/close-codes.js'
import type { NodeConfig, SyncmeshNode } from '../../src/node.js'
import { connectSynced, destroyProviders } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { TcpProxy, closeAllProxies } from '../helpers/tcp-proxy.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const common = { adminToken: 'removal-test-token', clusterSecret: 'removal-test-cluster-secret', raftTickMs: 20 }
const ids = ['n1', 'n2', 'n3'] as const

afterEach(async () => {
  destroyProviders()
  await closeTestNodes()
  await closeAllProxies()
  removeTempDirs()
})

/** Three in-process nodes whose peer links all run through proxies: proxy `a>b` carries what `a` dials `b` on. */
async function startThree(n3Options: Partial<NodeConfig> = {}) {
  const proxies = new Map<string, TcpProxy>()
  for (const from of ids) for (const to of ids) if (from !== to) proxies.set(`${from}>${to}`, await TcpProxy.start())
  const routes = (from: string) => Object.fromEntries(ids.filter((to) => to !== from).map((to) => [to, proxies.get(`${from}>${to}`)!.url]))
  const nodes: SyncmeshNode[] = []
  for (const id of ids) {
    const node = await startTestNode({
      ...common,
      id,
      peerRoutes: routes(id),
      ...(nodes[0] && { join: nodes[0].url }),
      ...(id === 'n3' && n3Options),
    })
    const { port } = new URL(node.url)
    for (const from of ids) if (from !== id) proxies.get(`${from}>${id}`)!.setTarget({ host: '127.0.0.1', port: Number(port) })
    nodes.push(node)
  }
  const [n1, n2, n3] = nodes as [SyncmeshNode, SyncmeshNode, SyncmeshNode]
  await waitFor('three voters', () => nodes.every((n) => n.cluster().members.filter((m) => m.role === 'voter').length === 3), 30_000)
  /** Bytes `from` sends to `to` are lost, on the links either of them dialed; the other direction flows. */
  const cutOneWay = (from: string, to: string) => {
    proxies.get(`${from}>${to}`)!.drop('toTarget')
    proxies.get(`${to}>${from}`)!.drop('fromTarget')
  }
  /** Every link to and from `id` is cut, and no new one can be made. */
  const isolate = (id: string) => {
    for (const [pair, proxy] of proxies) if (pair.split('>').includes(id)) proxy.cut()
  }
  const heal = () => {
    for (const proxy of proxies.values()) proxy.heal()
  }
  return { n1, n2, n3, cutOneWay, isolate, heal, routes }
}

const holds = (node: SyncmeshNode, doc: string, text: string) =>
  node.docs.withDoc(doc, (d) => d.getText('body').toString().includes(text)) === true

function edit(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('body').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

const postUpdate = (node: SyncmeshNode, doc: string, update: Uint8Array) =>
  fetch(`${node.url}/v1/docs/${doc}/update`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: update })

test('a removed node hands what only it holds to a remaining member, then closes its clients with 4421 (the SDK fails over), and answers 503', async () => {
  const { n1, n2, n3, cutOneWay, heal } = await startThree()
  const reader = await connectSynced(n3.url, 'shared')
  const sdk = createClient({ endpoints: [n3.url, n1.url], start: 'first' })
  const synced = sdk.open('shared')
  await synced.whenSynced
  expect(synced.status.endpoint).toBe(n3.url)

  // What n3 accepts from here on reaches nobody by live fan-out: only a hand-off can bring it to n1 and n2.
  cutOneWay('n3', 'n1')
  cutOneWay('n3', 'n2')
  synced.doc.getText('body').insert(0, 'from the SDK; ')
  await synced.whenDurable()
  expect((await postUpdate(n3, 'rest-only', edit('over REST'))).status).toBe(204)
  await waitFor('n3 to hold both', () => holds(n3, 'shared', 'from the SDK') && holds(n3, 'rest-only', 'over REST'))
  const version = await fetch(`${n3.url}/v1/docs/shared/versions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${common.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ label: 'made on n3 alone' }),
  })
  expect(version.status).toBe(201)
  const { id: versionId } = (await version.json()) as { id: string }

  const closed = new Promise<{ code: number; reason: string; n1HeldTheWrites: boolean }>((resolve) =>
    reader.on('connection-close', (event: { code: number; reason: string } | null) => {
      if (event) resolve({ code: event.code, reason: event.reason, n1HeldTheWrites: holds(n1, 'shared', 'from the SDK') && holds(n1, 'rest-only', 'over REST') })
    }),
  )
  const removal = await fetch(`${n1.url}/v1/cluster/members/n3`, { method: 'DELETE', headers: { authorization: `Bearer ${common.adminToken}` } })
  expect(removal.status).toBe(200)
  await waitFor('n3 to learn of its removal', async () => (await fetch(`${n3.url}/readyz`)).status === 503)
  // Not to be stopped yet: it has not handed off what only it holds.
  expect(await (await fetch(`${n3.url}/readyz`)).json()).toEqual({ error: { code: 'not_a_member', message: 'node removed from cluster', handOff: 'in_progress' } })
  const refused = await postUpdate(n3, 'later', edit('after the removal'))
  expect(refused.status).toBe(503)
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('not_a_member')
  expect(holds(n1, 'shared', 'from the SDK')).toBe(false)

  heal()
  // Sessions close only once the hand-off is done.
  expect(await closed).toEqual({ code: CloseCode.nodeRemoved, reason: 'node removed from cluster', n1HeldTheWrites: true })
  expect(await (await fetch(`${n3.url}/readyz`)).json()).toMatchObject({ error: { code: 'not_a_member', handOff: 'done' } })
  // Its histories went with its documents: the version made on n3 alone is listed on n1.
  const listed = await fetch(`${n1.url}/v1/docs/shared/versions`, { headers: { authorization: `Bearer ${common.adminToken}` } })
  expect(((await listed.json()) as { versions: { id: string }[] }).versions.map((v) => v.id)).toContain(versionId)
  await waitFor('n2 to hold both', () => holds(n2, 'shared', 'from the SDK') && holds(n2, 'rest-only', 'over REST'))
  await waitFor('the SDK to fail over to n1', () => synced.status.state === 'synced' && synced.status.endpoint === n1.url)
  synced.doc.getText('body').insert(0, 'through n1; ')
  await synced.whenDurable()
  expect(holds(n1, 'shared', 'through n1')).toBe(true)

  // A connection that comes later is closed at once with the same code.
  const late = new WebSocket(`${n3.url.replace(/^http/, 'ws')}/shared`)
  const lateClose = await new Promise<{ code: number; reason: string }>((resolve) => late.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  expect(lateClose).toEqual({ code: CloseCode.nodeRemoved, reason: 'node removed from cluster' })
  await sdk.close()
})

test('a removed node hands off while the rest of the cluster keeps writing: the member may hold more, never less', async () => {
  const { n1, n2, n3, cutOneWay, heal } = await startThree()
  cutOneWay('n3', 'n1')
  cutOneWay('n3', 'n2')
  expect((await postUpdate(n3, 'only-on-n3', edit('written on n3 alone'))).status).toBe(204)
  // Writes on n1 and n2 all along, each a new client's: no reconciliation finds n3 identical to either.
  let writing = true
  const writers = [n1, n2, n1, n2].map(async (node, w) => {
    for (let i = 0; writing; i++) expect((await postUpdate(node, `busy-${i % 4}`, edit(`w${w} ${i}`))).status).toBe(204)
  })
  try {
    const removal = await fetch(`${n1.url}/v1/cluster/members/n3`, { method: 'DELETE', headers: { authorization: `Bearer ${common.adminToken}` } })
    expect(removal.status).toBe(200)
    heal()
    const handOff = async () => ((await (await fetch(`${n3.url}/readyz`)).json()) as { error?: { handOff?: string } }).error?.handOff
    await waitFor('the hand-off to end', async () => ['done', 'failed'].includes((await handOff()) ?? ''), 30_000)
    expect(await handOff()).toBe('done')
    expect(holds(n1, 'only-on-n3', 'written on n3 alone') || holds(n2, 'only-on-n3', 'written on n3 alone')).toBe(true)
  } finally {
    writing = false
    await Promise.all(writers)
  }
})

test('a removed node that restarts knows it from its own Raft storage (snapshot or log) and refuses clients at once', async () => {
  const dataDir = tempDir()
  const { n1, n3, routes } = await startThree({ dataDir, raftSnapshotEntries: 2 })
  const removal = await fetch(`${n1.url}/v1/cluster/members/n3`, { method: 'DELETE', headers: { authorization: `Bearer ${common.adminToken}` } })
  expect(removal.status).toBe(200)
  await waitFor('n3 to learn of its removal', async () => (await fetch(`${n3.url}/readyz`)).status === 503)
  await n3.close()

  const again = await startTestNode({ ...common, id: 'n3', dataDir, peerRoutes: routes('n3') })
  expect((await fetch(`${again.url}/readyz`)).status).toBe(503)
  expect((await postUpdate(again, 'late', edit('after the restart'))).status).toBe(503)
  const late = new WebSocket(`${again.url.replace(/^http/, 'ws')}/late`)
  const code = await new Promise<number>((resolve) => late.on('close', (closeCode) => resolve(closeCode)))
  expect(code).toBe(CloseCode.nodeRemoved)
})

test('a removed node that was cut off when its removal committed hears of it from a member once it links again, and remembers it', async () => {
  const dataDir = tempDir()
  const { n1, n2, n3, isolate, heal, routes } = await startThree({ dataDir })
  isolate('n3')
  const removal = await fetch(`${n1.url}/v1/cluster/members/n3`, { method: 'DELETE', headers: { authorization: `Bearer ${common.adminToken}` } })
  expect(removal.status).toBe(200)
  await waitFor('n1 and n2 to apply the removal', () => [n1, n2].every((n) => !n.cluster().members.some((m) => m.id === 'n3')))
  // The premise: n3's own metadata has not learned it, and the leader sends it no more of the log.
  expect(n3.cluster().members.map((m) => m.id)).toContain('n3')
  expect((await fetch(`${n3.url}/readyz`)).status).toBe(200)

  heal()
  await waitFor('n3 to hear of its removal', async () => (await fetch(`${n3.url}/readyz`)).status === 503)
  expect((await postUpdate(n3, 'late', edit('after the removal'))).status).toBe(503)
  expect(n3.cluster().members.map((m) => m.id)).toContain('n3')
  await n3.close()

  // Started again with no member in reach to tell it: the data directory remembers.
  isolate('n3')
  const again = await startTestNode({ ...common, id: 'n3', dataDir, peerRoutes: routes('n3') })
  expect((await fetch(`${again.url}/readyz`)).status).toBe(503)
  expect((await postUpdate(again, 'late', edit('after the restart'))).status).toBe(503)
})
