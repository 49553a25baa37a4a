import { SignJWT } from 'jose'
import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { createClient, type ConnectionStatus, type SyncmeshClient } from '../../client/index.js'
import { defaultNodeConfig } from '../../src/node.js'
import {
  encodeDurableQuery,
  encodeQueryAwareness,
  encodeSyncStep1,
  encodeSyncUpdate,
} from '../../src/protocol/y-websocket.js'
import { connectSynced, destroyProviders } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { rawConnect } from '../helpers/raw-client.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { sleep, waitFor } from '../helpers/wait.js'

const tokenKey = 'the HS256 secret of the budget tests, 32+ chars'
const clients: SyncmeshClient[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close()
  destroyProviders()
  await closeTestNodes()
  removeTempDirs()
})

const closeCount = async (node: Awaited<ReturnType<typeof startTestNode>>, reason: string) =>
  (await node.metrics.clientCloses.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0

function updateOf(edit: (doc: Y.Doc) => void): Uint8Array {
  const doc = new Y.Doc()
  edit(doc)
  return Y.encodeStateAsUpdate(doc)
}

test('300,000 durability queries for a clock that never comes: the 65th outstanding one closes the connection 1013, others unaffected', async () => {
  const node = await startTestNode()
  const bystander = await connectSynced(node.url, 'q')
  const attacker = await rawConnect(node.url, '/q')
  const never = Y.encodeStateVectorFromUpdate(updateOf((doc) => doc.getText('t').insert(0, 'never sent')))
  const rssBefore = process.memoryUsage().rss
  for (let id = 0; id < 300_000 && attacker.ws.readyState === attacker.ws.OPEN; id++) attacker.ws.send(encodeDurableQuery(id, never))
  const closed = await attacker.closed
  expect(closed).toEqual({ code: 1013, reason: 'more than 64 durability queries outstanding; retry later' })
  expect(await closeCount(node, 'durable_query_budget')).toBe(1)
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024)
  const other = await connectSynced(node.url, 'q')
  bystander.doc.getText('t').insert(0, 'still flowing')
  await waitFor('an edit to reach another client', () => other.doc.getText('t').toString() === 'still flowing')
})

test('a connection over its message rate is closed 1013 "rate limit"; with the limit off the same burst passes', async () => {
  const limited = await startTestNode({ maxClientMessagesPerSecond: 1_000 })
  const flooder = await rawConnect(limited.url, '/r')
  for (let i = 0; i < 3_000 && flooder.ws.readyState === flooder.ws.OPEN; i++) flooder.ws.send(encodeQueryAwareness())
  expect(await flooder.closed).toEqual({ code: 1013, reason: 'rate limit: too many messages or bytes per second; retry later' })
  expect(await closeCount(limited, 'rate_limit')).toBe(1)

  const unlimited = await startTestNode({ maxClientMessagesPerSecond: 0 })
  const burst = await rawConnect(unlimited.url, '/r')
  for (let i = 0; i < 3_000; i++) burst.ws.send(encodeQueryAwareness())
  burst.ws.send(encodeSyncStep1(new Uint8Array([0])))
  await waitFor('the answer to the last message', () => burst.frames.length >= 2)
  expect(burst.ws.readyState).toBe(burst.ws.OPEN)
  burst.ws.close()
})

test('several messages in one frame are all read, in order', async () => {
  const node = await startTestNode()
  const client = await rawConnect(node.url, '/multi')
  const first = updateOf((doc) => doc.getText('t').insert(0, 'one'))
  const second = Y.encodeStateAsUpdate(
    (() => {
      const doc = new Y.Doc()
      Y.applyUpdate(doc, first)
      doc.getText('t').insert(3, ' two')
      return doc
    })(),
    Y.encodeStateVectorFromUpdate(first),
  )
  client.ws.send(Buffer.concat([encodeSyncUpdate(first), encodeSyncUpdate(second)]))
  await waitFor('both updates stored', () => node.docs.withDoc('multi', (d) => d.getText('t').toString()) === 'one two')
  client.ws.close()
})

test('a writer faster than commits (paused past 64 KiB pending) loses nothing: every update is stored, in order', async () => {
  const node = await startTestNode({ clientBudget: { ...defaultNodeConfig.clientBudget, maxPendingApplyBytes: 64 * 1024 } })
  const writer = new Y.Doc()
  const updates: Uint8Array[] = []
  writer.on('update', (update: Uint8Array) => updates.push(update))
  for (let i = 0; i < 400; i++) writer.getArray('a').push(['y'.repeat(4 * 1024)])
  const client = await rawConnect(node.url, '/fast')
  for (const update of updates) client.ws.send(encodeSyncUpdate(update))
  await waitFor('every update stored', () => node.docs.withDoc('fast', (d) => d.getArray('a').length) === 400)
  expect(client.ws.readyState).toBe(client.ws.OPEN)
  client.ws.close()
})

async function token(expiresInS: number): Promise<string> {
  return new SignJWT({ sub: 'sam', docs: ['**'], access: 'write' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInS)
    .sign(new TextEncoder().encode(tokenKey))
}

test('a session ends with 4401 "token expired" at its token\'s exp; the SDK fetches a fresh token and carries on', async () => {
  const node = await startTestNode({ tokenKey })
  const raw = await rawConnect(node.url, `/t?token=${await token(2)}`)
  expect(await raw.closed).toEqual({ code: 4401, reason: 'token expired' })

  let tokensFetched = 0
  const client = createClient({ endpoints: [node.url], maxBackoffMs: 200, token: async () => (tokensFetched++, token(2)) })
  clients.push(client)
  const doc = client.open('t')
  await doc.whenSynced
  await waitFor('a reconnect with a fresh token after expiry', () => tokensFetched >= 2 && doc.status.state === 'synced')
  doc.doc.getText('t').insert(0, 'after expiry')
  await doc.whenDurable()
  expect(node.docs.withDoc('t', (d) => d.getText('t').toString())).toBe('after expiry')
})

test('the SDK stops on a permanent refusal and says why: a frame over the limit gives state failed with 4413', async () => {
  const node = await startTestNode({ maxMessageBytes: 32 * 1024 })
  const client = createClient({ endpoints: [node.url], maxBackoffMs: 50 })
  clients.push(client)
  const doc = client.open('big')
  await doc.whenSynced
  const seen: ConnectionStatus[] = []
  doc.onStatus((status) => seen.push(status))
  doc.doc.getText('t').insert(0, 'z'.repeat(64 * 1024))
  await waitFor('the failed state', () => doc.status.state === 'failed')
  expect(doc.status.error?.code).toBe(4413)
  expect(doc.status.error?.reason).toMatch(/passes the limit of 32768 bytes/)
  await sleep(300)
  expect(seen.filter((s) => s.state === 'connecting')).toEqual([])
})

test('many whenDurable calls at once stay within the node\'s budget and all resolve', async () => {
  const node = await startTestNode()
  const client = createClient({ endpoints: [node.url] })
  clients.push(client)
  const doc = client.open('many')
  await doc.whenSynced
  const waits: Promise<void>[] = []
  for (let i = 0; i < 300; i++) {
    doc.doc.getText('t').insert(0, 'x')
    waits.push(doc.whenDurable())
  }
  await Promise.all(waits)
  expect(doc.status.state).toBe('synced')
  expect(await closeCount(node, 'durable_query_budget')).toBe(0)
})
