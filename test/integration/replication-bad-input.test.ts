import { pino } from 'pino'
import * as Y from 'yjs'
import { afterEach, describe, expect, test } from 'vitest'
import { generateNodeIdentity } from '../../src/peer/node-identity.js'
import { PeerNetwork } from '../../src/peer/peer-network.js'
import { PeerChannel } from '../../src/protocol/peer-frames.js'
import { encodeReconcileMessage } from '../../src/protocol/range-codec.js'
import { decodeReplicationMessage, encodeReplicationMessage, type ReplicationMessage } from '../../src/protocol/replication-codec.js'
import { Replication } from '../../src/replication/replication.js'
import { rawPeer, terminateRawPeers } from '../helpers/raw-peer.js'
import { replicationFrame, secret, startReplicatingNode, stopReplicatingNodes } from '../helpers/replicating-node.js'
import { openStore, silentLog } from '../helpers/store.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { sleep, waitFor } from '../helpers/wait.js'

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

describe('well-framed messages this node cannot use', () => {
  interface LoggedNode {
    url: string
    store: ReturnType<typeof openStore>
    network: PeerNetwork
    replication: Replication
    errors: () => Record<string, unknown>[]
  }
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    terminateRawPeers()
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  /** Node `a`, as startReplicatingNode makes it, with its log kept; `x` is stored and digested before it returns. */
  async function startLoggedNode(): Promise<LoggedNode> {
    const lines: Record<string, unknown>[] = []
    const log = pino({ base: { node: 'a' } }, { write: (line: string) => void lines.push(JSON.parse(line)) })
    const node = await startReplicatingNode({ log })
    const { replication } = node
    await waitFor('the digest of x', () => replication.summary().staleDigests === 0 && replication.summary().documents === 1)
    return { ...node, errors: () => lines.filter((line) => line['level'] === 50) }
  }

  /** A well-behaved peer `e`, with a store of its own, that dials `a`; `a` reconciles with it as the link comes up. */
  async function startHealthyPeer(aUrl: string) {
    const store = openStore(tempDir())
    const identity = generateNodeIdentity()
    const network = new PeerNetwork(
      { selfId: 'e', clusterSecret: secret, identity, keyOf: () => undefined, urlOf: (id) => (id === 'a' ? aUrl : undefined) },
      silentLog,
    )
    const replication = new Replication(store.docs, network, { selfId: 'e', channel: 'replication', antiEntropyMs: 60_000, isDeleted: () => false, isDeparting: () => false }, silentLog)
    network.setPeers(['a'])
    cleanups.push(async () => {
      replication.close()
      await network.close()
      await store.close()
    })
    return { store, replication }
  }

  async function authenticatedRawPeer(url: string) {
    const e = rawPeer(url, { dialerId: 'e', acceptorId: 'a' }, secret)
    expect(await e.authenticated).toBe(true)
    return e
  }

  /**
   * Stale digests that take a refresh more than one turn of the event loop: a message that waits for fresh digests is
   * then handled from a setImmediate, where a throw would end the process.
   */
  async function makeDigestsSlow(node: LoggedNode): Promise<void> {
    const heavy = new Y.Doc()
    for (let i = 0; i < 100_000; i++) heavy.getText('body').insert(0, 'h')
    const written = await Promise.all([
      node.store.docs.apply('a-heavy', Y.encodeStateAsUpdate(heavy), 'test'),
      node.store.docs.apply('b', textUpdate('b'), 'test'),
    ])
    expect(written.every((result) => result.ok)).toBe(true)
  }

  const send = (e: ReturnType<typeof rawPeer>, message: ReplicationMessage) =>
    e.ws.send(replicationFrame(encodeReplicationMessage(message)))
  const garbage = Uint8Array.of(5, 1)

  test.each<[string, Extract<ReplicationMessage, { type: 'doc-request' | 'doc-reply' }>, RegExp]>([
    [
      'a doc-request with a state vector that does not decode',
      { type: 'doc-request', session: 7, docs: [{ name: 'x', stateVector: garbage }] },
      /^bad replication message: x: /,
    ],
    [
      'a doc-reply with a state vector that does not decode, for a session that never existed',
      { type: 'doc-reply', session: 8, docs: [{ name: 'x', holding: 'present', update: textUpdate('e'), stateVector: garbage }] },
      /^bad replication message: x: /,
    ],
  ])('%s, handled once digests are fresh, closes the link with 4400 and is logged once; the node goes on', async (_what, message, reason) => {
    const node = await startLoggedNode()
    const before = node.store.docs.readUpdate('x')
    const e = await authenticatedRawPeer(node.url)
    await makeDigestsSlow(node)
    send(e, message)
    const closed = await e.closed
    expect(closed.code).toBe(4400)
    expect(closed.reason).toMatch(reason)
    expect(node.errors()).toEqual([
      expect.objectContaining({
        node: 'a',
        peer: 'e',
        doc: 'x',
        session: message.session,
        msg: 'replication message from a peer refused; its link is closed',
      }),
    ])
    expect(node.store.docs.readUpdate('x')).toEqual(before)

    const healthy = await startHealthyPeer(node.url)
    const holds = (name: string) => healthy.store.docs.readUpdate(name) !== undefined
    await waitFor('the healthy peer to be reconciled with', () => holds('x') && holds('a-heavy') && holds('b'))
    await waitFor('both to report the same documents', () => healthy.replication.summary().fingerprint === node.replication.summary().fingerprint)
  })

  test('a doc-fill of updates Yjs cannot apply, for documents with and without a digest, is refused update by update', async () => {
    const node = await startLoggedNode()
    const before = node.store.docs.readUpdate('x')
    const e = await authenticatedRawPeer(node.url)
    await makeDigestsSlow(node)
    send(e, { type: 'doc-fill', session: 9, docs: [{ name: 'x', update: Uint8Array.of(1, 2, 3, 4, 5) }, { name: 'new', update: garbage }] })
    await expect.poll(async () => (await node.store.metrics.updatesRejected.get()).values).toEqual([
      expect.objectContaining({ labels: { reason: 'invalid_update' }, value: 2 }),
    ])
    expect(node.network.linkStates()['e']?.state).toBe('connected')
    expect(node.store.docs.readUpdate('x')).toEqual(before)
    expect(node.store.docs.readUpdate('new')).toBeUndefined()
    expect(node.errors()).toEqual([])
  })

  test('a reconciliation listing documents that do not exist, some under names no document can have, asks only for possible ones', async () => {
    const node = await startLoggedNode()
    const e = await authenticatedRawPeer(node.url)
    const digest = new Uint8Array(16).fill(7)
    const items = ['', '_peer', 'ghost', 'x', 'y'.repeat(1_000)].map((name) => ({ name, digest }))
    send(e, { type: 'range', session: 10, payload: encodeReconcileMessage([{ mode: 'list', upper: null, items }]) })
    await waitFor('a doc-request from a', () => replicationMessages(e).some((m) => m.type === 'doc-request' && m.session === 10))
    const request = replicationMessages(e).find((m) => m.type === 'doc-request' && m.session === 10)
    expect(request?.type === 'doc-request' && request.docs.map((doc) => doc.name)).toEqual(['ghost', 'x'])
    expect(node.errors()).toEqual([])

    terminateRawPeers()
    const healthy = await startHealthyPeer(node.url)
    await waitFor('the healthy peer to be reconciled with', () => healthy.store.docs.readUpdate('x') !== undefined)
  })
})

function textUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('body').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

function replicationMessages(peer: ReturnType<typeof rawPeer>): ReplicationMessage[] {
  return peer.frames.filter((frame) => frame.channel === PeerChannel.replication).map((frame) => decodeReplicationMessage(frame.payload))
}

test("a hold-check of a departing peer is answered from what the node durably holds; one whose snapshot is not Yjs's closes the link with 4400", async () => {
  let departing = false
  const node = await startReplicatingNode({ options: { isDeparting: (peer) => departing && peer === 'e' } })
  const e = rawPeer(node.url, { dialerId: 'e', acceptorId: 'a' }, secret)
  expect(await e.authenticated).toBe(true)
  const stored = node.store.docs.withDoc('x', (doc) => Y.encodeSnapshot(Y.snapshot(doc)))!
  const more = new Y.Doc()
  Y.applyUpdate(more, node.store.docs.readUpdate('x')!)
  more.getText('body').delete(0, 3)
  const docs = [
    { name: 'x', snapshot: stored },
    { name: 'x', snapshot: Y.encodeSnapshot(Y.snapshot(more)) },
    { name: 'never-written', snapshot: Y.encodeSnapshot(Y.snapshot(more)) },
    { name: '_peer', snapshot: Y.encodeSnapshot(Y.snapshot(more)) },
  ]
  // A member that is not leaving may not make this node read documents for it.
  e.ws.send(replicationFrame(encodeReplicationMessage({ type: 'hold-check', check: 6, docs })))
  await sleep(300)
  expect(replicationMessages(e).filter((m) => m.type === 'hold-answer')).toEqual([])
  departing = true
  e.ws.send(replicationFrame(encodeReplicationMessage({ type: 'hold-check', check: 7, docs })))
  await waitFor('the answer', () => replicationMessages(e).some((m) => m.type === 'hold-answer'))
  // x as stored is held, x with a deletion more is not; a document never written is not; a name no document can have needs nothing.
  expect(replicationMessages(e).find((m) => m.type === 'hold-answer')).toEqual({ type: 'hold-answer', check: 7, missing: ['x', 'never-written'] })

  e.ws.send(replicationFrame(encodeReplicationMessage({ type: 'hold-check', check: 8, docs: [{ name: 'x', snapshot: Uint8Array.of(200, 200, 200) }] })))
  const closed = await e.closed
  expect(closed.code).toBe(4400)
  expect(closed.reason).toMatch(/hold-check: not a Yjs snapshot/)
})
