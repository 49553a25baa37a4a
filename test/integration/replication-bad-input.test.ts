import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { PeerNetwork } from '../../src/peer/peer-network.js'
import { PeerChannel, encodeChannelFrame } from '../../src/protocol/peer-frames.js'
import { encodeReplicationMessage } from '../../src/protocol/replication-codec.js'
import { Replication } from '../../src/replication/replication.js'
import { rawPeer, terminateRawPeers } from '../helpers/raw-peer.js'
import { openStore, silentLog } from '../helpers/store.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const secret = 'the cluster secret of the tests'
const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  terminateRawPeers()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  removeTempDirs()
})

/** Node `a`: a real DocStore on LMDB, replication on a real peer network that lets peer `e` in. */
async function startReplicatingNode() {
  const store = openStore(tempDir())
  const network = new PeerNetwork({ selfId: 'a', clusterSecret: secret, urlOf: () => undefined }, silentLog)
  const replication = new Replication(store.docs, network, { selfId: 'a', antiEntropyMs: 60_000, isDeleted: () => false }, silentLog)
  network.setPeers(['e'])
  const server = createServer((_request, response) => response.writeHead(404).end())
  server.on('upgrade', (request, socket, head) => network.handleUpgrade(request, socket, head))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    replication.close()
    await network.close()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await store.close()
  })
  const doc = new Y.Doc()
  doc.getText('body').insert(0, 'stored before')
  expect((await store.docs.apply('x', Y.encodeStateAsUpdate(doc), 'test')).ok).toBe(true)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, store, network }
}

const replicationFrame = (payload: Uint8Array) => encodeChannelFrame(PeerChannel.replication, payload)

test.each([
  ['bytes that are no replication message', Uint8Array.of(42, 1, 2), /^bad replication message: unknown replication message type 42$/],
  ['a truncated message', encodeReplicationMessage({ type: 'range', session: 1, payload: new Uint8Array(10) }).subarray(0, 5), /^bad replication message: malformed/],
  ['a reconciliation message that does not decode', encodeReplicationMessage({ type: 'range', session: 1, payload: Uint8Array.of(255, 255) }), /^bad replication message: /],
])('%s from an authenticated peer closes its link with 4400; stored data is unchanged', async (_what, payload, reason) => {
  const node = await startReplicatingNode()
  const before = node.store.docs.readUpdate('x')
  const e = rawPeer(node.url, { dialerId: 'e', acceptorId: 'a' }, secret)
  expect(await e.authenticated).toBe(true)
  e.ws.send(replicationFrame(payload))
  const closed = await e.closed
  expect(closed.code).toBe(4400)
  expect(closed.reason).toMatch(reason)
  expect(node.store.docs.readUpdate('x')).toEqual(before)

  // The node still replicates with a peer that behaves.
  const again = rawPeer(node.url, { dialerId: 'e', acceptorId: 'a' }, secret)
  expect(await again.authenticated).toBe(true)
  const doc = new Y.Doc()
  doc.getText('body').insert(0, 'from e')
  again.ws.send(replicationFrame(encodeReplicationMessage({ type: 'updates', updates: [{ name: 'y', update: Y.encodeStateAsUpdate(doc) }] })))
  await waitFor('the update from e to be stored', () => node.store.docs.readUpdate('y') !== undefined)
})

test('updates that are not valid Yjs, or for invalid names, are refused one by one; the link and the data stay', async () => {
  const node = await startReplicatingNode()
  const before = node.store.docs.readUpdate('x')
  const e = rawPeer(node.url, { dialerId: 'e', acceptorId: 'a' }, secret)
  expect(await e.authenticated).toBe(true)
  const good = new Y.Doc()
  good.getText('body').insert(0, 'good')
  const updates = [
    { name: 'x', update: Uint8Array.of(1, 2, 3, 4, 5) },
    { name: '_peer', update: Y.encodeStateAsUpdate(good) },
    { name: 'z', update: Y.encodeStateAsUpdate(good) },
  ]
  e.ws.send(replicationFrame(encodeReplicationMessage({ type: 'updates', updates })))
  await waitFor('the valid update to be stored', () => node.store.docs.readUpdate('z') !== undefined)
  expect(node.store.docs.readUpdate('x')).toEqual(before)
  expect(node.store.docs.readUpdate('_peer')).toBeUndefined()
  expect(await node.store.metrics.updatesRejected.get()).toMatchObject({ values: [{ labels: { reason: 'invalid_update' }, value: 1 }] })
  expect(node.network.linkStates()['e']?.state).toBe('connected')
})
