import { afterEach, expect, test } from 'vitest'
import * as Y from 'yjs'
import { PeerChannel } from '../../src/protocol/peer-frames.js'
import { decodeReplicationMessage, encodeReplicationMessage, type ReplicationMessage } from '../../src/protocol/replication-codec.js'
import { ItemSet } from '../../src/replication/item-set.js'
import { RangeReconciler } from '../../src/replication/range-reconciler.js'
import { rawPeer, terminateRawPeers } from '../helpers/raw-peer.js'
import { replicationFrame, secret, startReplicatingNode, stopReplicatingNodes } from '../helpers/replicating-node.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

/** What a raw peer received in one session, decoded. */
const messagesOf = (peer: ReturnType<typeof rawPeer>, session: number) =>
  peer.frames
    .filter((f) => f.channel === PeerChannel.replication)
    .map((f) => decodeReplicationMessage(f.payload))
    .filter((m) => 'session' in m && m.session === session)

/** The first message of a session that a peer with no documents starts. */
const opening = (session: number) =>
  replicationFrame(encodeReplicationMessage({ type: 'range', session, payload: new RangeReconciler(new ItemSet()).initiate() }))

afterEach(async () => {
  terminateRawPeers()
  await stopReplicatingNodes()
  removeTempDirs()
})

test('a node catching up through a session its peer answers declines a new one with busy; before that it answers', async () => {
  const node = await startReplicatingNode()
  const e = rawPeer(node.url, { dialerId: 'e', acceptorId: 'a' }, secret)
  expect(await e.authenticated).toBe(true)
  const received = (): ReplicationMessage[] =>
    e.frames.filter((f) => f.channel === PeerChannel.replication).map((f) => decodeReplicationMessage(f.payload))
  const send = (message: ReplicationMessage) => e.ws.send(replicationFrame(encodeReplicationMessage(message)))
  const ofSession = (session: number) => messagesOf(e, session)

  // a ('a' < 'e') starts a session as soon as the link is up.
  await waitFor('the session a starts', () => received().some((m) => m.type === 'range'))
  const own = received().find((m) => m.type === 'range')!
  if (own.type !== 'range') throw new Error('unreachable')

  // e has not answered it yet: a new session from e is answered as usual.
  e.ws.send(opening(1001))
  await waitFor('an answer to session 1001', () => ofSession(1001).length > 0)
  expect(ofSession(1001)[0]!.type).toBe('range')

  // Once e answers a's session, a is catching up through it: the next new session is declined.
  const { reply } = new RangeReconciler(new ItemSet()).receive(own.payload)
  send({ type: 'range', session: own.session, payload: reply! })
  await waitFor('a to ask e for the document it lacks', () => ofSession(own.session).some((m) => m.type === 'doc-request'))
  e.ws.send(opening(1002))
  await waitFor('an answer to session 1002', () => ofSession(1002).length > 0)
  expect(ofSession(1002)).toEqual([{ type: 'busy', session: 1002 }])
})

test('a session whose link went down does not make the node decline a session on another link', async () => {
  const node = await startReplicatingNode()
  node.network.setPeers(['e', 'f'])
  const e = rawPeer(node.url, { dialerId: 'e', acceptorId: 'a' }, secret)
  expect(await e.authenticated).toBe(true)
  await waitFor('the session a starts with e', () =>
    e.frames.some((f) => f.channel === PeerChannel.replication && decodeReplicationMessage(f.payload).type === 'range'),
  )
  const own = e.frames.map((f) => decodeReplicationMessage(f.payload)).find((m) => m.type === 'range')!
  if (own.type !== 'range') throw new Error('unreachable')
  // e answers: a now catches up through this session…
  const { reply } = new RangeReconciler(new ItemSet()).receive(own.payload)
  e.ws.send(replicationFrame(encodeReplicationMessage({ type: 'range', session: own.session, payload: reply! })))
  await waitFor('a to ask e for the document it lacks', () =>
    e.frames.some((f) => f.channel === PeerChannel.replication && decodeReplicationMessage(f.payload).type === 'doc-request'),
  )
  // …until a partition cuts e off mid-way: that session brings nothing more.
  e.ws.terminate()
  await waitFor('the link to e to go down', () => !node.network.connectedPeers().includes('e'))

  const f = rawPeer(node.url, { dialerId: 'f', acceptorId: 'a' }, secret)
  expect(await f.authenticated).toBe(true)
  f.ws.send(opening(2001))
  const answers = () => messagesOf(f, 2001)
  await waitFor('an answer to session 2001', () => answers().length > 0)
  expect(answers()[0]!.type).toBe('range')
})

test('a node whose reconciliation work queue is full ends the session with busy, and answers the next one', async () => {
  // Room for one waiting message only.
  const node = await startReplicatingNode({ options: { sessionWork: { maxBytes: 1 } } })
  const e = rawPeer(node.url, { dialerId: 'e', acceptorId: 'a' }, secret)
  expect(await e.authenticated).toBe(true)
  const ofSession = (session: number) => messagesOf(e, session)

  // Two messages of one session in one socket read: the second finds the first still waiting.
  e.ws.send(opening(3001))
  e.ws.send(opening(3001))
  await waitFor('busy for session 3001', () => ofSession(3001).some((m) => m.type === 'busy'))
  // The first message was queued before the session ended: nothing of it is sent after the busy.
  expect(ofSession(3001)).toEqual([{ type: 'busy', session: 3001 }])

  e.ws.send(opening(3002))
  await waitFor('an answer to session 3002', () => ofSession(3002).length > 0)
  expect(ofSession(3002)[0]!.type).toBe('range')
})

test('while a new session of a peer waits for digests to be brought up to date, another new one of that peer is declined with busy', async () => {
  const node = await startReplicatingNode()
  const e = rawPeer(node.url, { dialerId: 'e', acceptorId: 'a' }, secret)
  expect(await e.authenticated).toBe(true)
  const ofSession = (session: number) => messagesOf(e, session)

  // Enough changed documents that bringing their digests up to date takes several turns of the event loop.
  const written = await Promise.all(
    Array.from({ length: 8_000 }, (_, i) => {
      const doc = new Y.Doc()
      doc.getText('body').insert(0, `document ${i}`)
      return node.store.docs.apply(`doc-${i}`, Y.encodeStateAsUpdate(doc), 'test')
    }),
  )
  expect(written.every((result) => result.ok)).toBe(true)
  e.ws.send(opening(4001))
  e.ws.send(opening(4001))
  e.ws.send(opening(4002))
  await waitFor('an answer to session 4001', () => ofSession(4001).length > 0)
  await waitFor('an answer to session 4002', () => ofSession(4002).length > 0)
  // 4001 waited for the digests and was answered once; 4002 was not held meanwhile.
  expect(ofSession(4001).filter((m) => m.type === 'range')).toHaveLength(1)
  expect(ofSession(4002)).toEqual([{ type: 'busy', session: 4002 }])

  // Once the digests are fresh, a new session is answered at once.
  e.ws.send(opening(4003))
  await waitFor('an answer to session 4003', () => ofSession(4003).length > 0)
  expect(ofSession(4003)[0]!.type).toBe('range')
}, 30_000)
