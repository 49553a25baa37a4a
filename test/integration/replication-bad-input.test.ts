import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { encodeReplicationMessage } from '../../src/protocol/replication-codec.js'
import { rawPeer, terminateRawPeers } from '../helpers/raw-peer.js'
import { replicationFrame, secret, startReplicatingNode, stopReplicatingNodes } from '../helpers/replicating-node.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

afterEach(async () => {
  terminateRawPeers()
  await stopReplicatingNodes()
  removeTempDirs()
})

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
