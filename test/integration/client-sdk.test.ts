import WebSocket from 'ws'
import { afterEach, expect, test, vi } from 'vitest'
import { createClient, type ConnectionStatus, type SyncmeshClient } from '../../client/index.js'
import { connectSynced, destroyProviders } from '../helpers/clients.js'
import { killAllNodes, NodeProcess } from '../helpers/node-process.js'
import { startProxiedCluster, type ProxiedCluster } from '../helpers/proxied-cluster.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const clients: SyncmeshClient[] = []
let cluster: ProxiedCluster | null = null

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close()
  destroyProviders()
  await cluster?.close()
  cluster = null
  await killAllNodes()
  removeTempDirs()
})

function client(options: Omit<Parameters<typeof createClient>[0], 'WebSocketPolyfill'>): SyncmeshClient {
  const created = createClient({ ...options, WebSocketPolyfill: WebSocket, maxBackoffMs: 200 })
  clients.push(created)
  return created
}

async function readText(url: string, name: string): Promise<string> {
  const res = await fetch(`${url}/v1/docs/${encodeURIComponent(name)}`)
  return res.status === 200 ? (((await res.json()) as { body?: string }).body ?? '') : ''
}

test('whenDurable resolves once the node has the changes on disk: they survive kill -9 of the node', async () => {
  const dataDir = tempDir()
  const node = await NodeProcess.start(['--data', dataDir])
  const notes = client({ endpoints: [node.url] }).open('notes')
  await notes.whenSynced
  notes.doc.getText('body').insert(0, 'durable before the kill')
  await notes.whenDurable()
  await node.kill('SIGKILL')
  const restarted = await NodeProcess.start(['--data', dataDir])
  expect(await readText(restarted.url, 'notes')).toBe('durable before the kill')
})

test('a stock WebsocketProvider keeps working beside clients that ask durability queries', async () => {
  const node = await NodeProcess.start(['--data', tempDir()])
  const errors = vi.spyOn(console, 'error')
  const stock = await connectSynced(node.url, 'mixed')
  const sdk = client({ endpoints: [node.url] }).open('mixed')
  await sdk.whenSynced
  sdk.doc.getText('body').insert(0, 'from the sdk ')
  await sdk.whenDurable()
  await waitFor('the stock provider to receive the edit', () => stock.doc.getText('body').toString() === 'from the sdk ')
  stock.doc.getText('body').insert(0, 'and stock ')
  await waitFor('the sdk to receive the edit', () => sdk.doc.getText('body').toString() === 'and stock from the sdk ')
  expect(errors.mock.calls.flat().join(' ')).not.toMatch(/Unable to compute message/)
  errors.mockRestore()
})

test('when its node is killed, a document fails over to another and no edit is lost', async () => {
  cluster = await startProxiedCluster({ antiEntropyMs: 200 })
  const endpoints = ['n1', 'n2'].map((id) => cluster!.node(id).url)
  const statuses: ConnectionStatus[] = []
  let tokensFetched = 0
  const editor = client({ endpoints, token: async () => `token-${++tokensFetched}` }).open('failover/doc')
  editor.onStatus((status) => statuses.push(status))
  await editor.whenSynced
  const first = editor.status.endpoint!
  const text = editor.doc.getText('body')
  for (let i = 0; i < 20; i++) text.insert(text.length, `a${i} `)
  await editor.whenDurable()

  const killed = cluster.nodes.find((n) => n.url === first)!.id
  await cluster.stop(killed)
  for (let i = 0; i < 20; i++) text.insert(text.length, `b${i} `)
  await waitFor('the document to sync with another node', () => editor.status.state === 'synced' && editor.status.endpoint !== first)
  await editor.whenDurable()

  const expected = text.toString()
  expect(expected.split(' ').filter(Boolean)).toHaveLength(40)
  const survivor = cluster.node(killed === 'n1' ? 'n2' : 'n1').url
  expect(await readText(survivor, 'failover/doc')).toBe(expected)
  expect(statuses.map((s) => s.state)).toEqual(expect.arrayContaining(['connecting', 'connected', 'synced', 'offline']))
  // A fresh token before every connection: at least the first one and the one after the failover.
  expect(tokensFetched).toBeGreaterThanOrEqual(2)
})

test('edits made offline are kept on disk and merged once a node is reachable', async () => {
  const persistenceDir = tempDir()
  const unreachable = 'http://127.0.0.1:1'
  const offline = client({ endpoints: [unreachable], persistenceDir })
  const draft = offline.open('offline/draft')
  draft.doc.getText('body').insert(0, 'written offline')
  await waitFor('the client to give up on the unreachable node once', () => draft.status.state === 'offline')
  await offline.close()
  clients.splice(clients.indexOf(offline), 1)

  const node = await NodeProcess.start(['--data', tempDir()])
  const online = client({ endpoints: [node.url], persistenceDir }).open('offline/draft')
  expect(online.doc.getText('body').toString()).toBe('written offline')
  await online.whenSynced
  await online.whenDurable()
  expect(await readText(node.url, 'offline/draft')).toBe('written offline')
})
