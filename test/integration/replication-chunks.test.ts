import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { PeerChannel } from '../../src/protocol/peer-frames.js'
import {
  decodeReplicationMessage,
  encodeReplicationMessage,
  type ChunkMessage,
  type ReplicationMessage,
} from '../../src/protocol/replication-codec.js'
import { defaultTransferTuning } from '../../src/replication/chunked-transport.js'
import { ChunkReassembly, splitIntoChunks } from '../../src/replication/chunks.js'
import { rawPeer, terminateRawPeers } from '../helpers/raw-peer.js'
import { replicationFrame, secret, startReplicatingNode, stopReplicatingNodes } from '../helpers/replicating-node.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

afterEach(async () => {
  terminateRawPeers()
  await stopReplicatingNodes()
  removeTempDirs()
})

const mib = 1024 * 1024
const { chunkBytes } = defaultTransferTuning

/** A document of `lines` distinct 1 MiB lines: past the peer link's 16 MiB frame limit from 17 on. */
function bigDoc(lines: number): Y.Doc {
  const doc = new Y.Doc()
  for (let i = 0; i < lines; i++) doc.getText('body').insert(doc.getText('body').length, `${i}`.padEnd(mib, `-${i}`))
  return doc
}

const bodyOf = (update: Uint8Array | undefined) => {
  if (!update) return undefined
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc.getText('body').toString()
}

async function authenticatedPeer(url: string) {
  const e = rawPeer(url, { dialerId: 'e', acceptorId: 'a' }, secret)
  expect(await e.authenticated).toBe(true)
  return e
}

const sendMessage = (e: ReturnType<typeof rawPeer>, message: ReplicationMessage) =>
  e.ws.send(replicationFrame(encodeReplicationMessage(message)))

test('an update over the frame limit from a peer, in chunks, is stored whole once its last chunk is in; live updates sent between its chunks go ahead', async () => {
  const node = await startReplicatingNode()
  const e = await authenticatedPeer(node.url)
  const big = bigDoc(20)
  const chunks = splitIntoChunks(
    encodeReplicationMessage({ type: 'updates', updates: [{ name: 'big', update: Y.encodeStateAsUpdate(big) }] }),
    1,
    chunkBytes,
  )
  for (const chunk of chunks.slice(0, -1)) sendMessage(e, chunk)
  const small = new Y.Doc()
  small.getText('body').insert(0, 'small')
  sendMessage(e, { type: 'updates', updates: [{ name: 'small', update: Y.encodeStateAsUpdate(small) }] })
  await waitFor('the small update to be stored', () => node.store.docs.readUpdate('small') !== undefined)
  expect(node.store.docs.readUpdate('big')).toBeUndefined()

  sendMessage(e, chunks.at(-1)!)
  await waitFor('the big update to be stored', () => node.store.docs.readUpdate('big') !== undefined)
  expect(bodyOf(node.store.docs.readUpdate('big'))).toBe(big.getText('body').toString())
})

test('a transfer cut off by its link going down stores nothing; sent again over a new link, it is stored', async () => {
  const node = await startReplicatingNode()
  const big = bigDoc(3)
  const chunks = splitIntoChunks(
    encodeReplicationMessage({ type: 'doc-fill', session: 4, docs: [{ name: 'big', update: Y.encodeStateAsUpdate(big) }] }),
    1,
    chunkBytes,
  )
  const first = await authenticatedPeer(node.url)
  for (const chunk of chunks.slice(0, 2)) sendMessage(first, chunk)
  first.ws.terminate()
  await waitFor('the link to go down', () => node.network.linkStates()['e']?.state === 'down')
  expect(node.store.docs.readUpdate('big')).toBeUndefined()

  const again = await authenticatedPeer(node.url)
  // The rest of the old transfer is of no use on its own.
  sendMessage(again, chunks.at(-1)!)
  for (const chunk of chunks) sendMessage(again, { ...chunk, transfer: 2 })
  await waitFor('the document to be stored', () => node.store.docs.readUpdate('big') !== undefined)
  expect(bodyOf(node.store.docs.readUpdate('big'))).toBe(big.getText('body').toString())
})

test.each<[string, ChunkMessage[], RegExp]>([
  [
    'a chunked message declared over maxTransferBytes',
    [{ type: 'chunk', transfer: 1, index: 0, totalBytes: defaultTransferTuning.maxTransferBytes + 1, bytes: new Uint8Array(10) }],
    /^bad replication message: a chunked message of \d+ bytes is over the limit of \d+ bytes$/,
  ],
  [
    'chunks that go on past their declared length',
    [
      { type: 'chunk', transfer: 1, index: 0, totalBytes: 20, bytes: new Uint8Array(15) },
      { type: 'chunk', transfer: 1, index: 1, totalBytes: 20, bytes: new Uint8Array(15) },
    ],
    /^bad replication message: chunks of transfer 1 run past its 20 bytes$/,
  ],
  [
    'chunks of a message that does not decode once whole',
    splitIntoChunks(Uint8Array.of(42, 1, 2, 3), 1, 2),
    /^bad replication message: unknown replication message type 42$/,
  ],
  [
    'chunks of a message that is itself a chunk',
    splitIntoChunks(encodeReplicationMessage({ type: 'chunk', transfer: 9, index: 0, totalBytes: 4, bytes: new Uint8Array(4) }), 1, 4),
    /^bad replication message: a chunk inside a chunked message$/,
  ],
])('%s close the link with 4400 and say why; the node goes on replicating', async (_what, chunks, reason) => {
  const node = await startReplicatingNode()
  const before = node.store.docs.readUpdate('x')
  const e = await authenticatedPeer(node.url)
  for (const chunk of chunks) sendMessage(e, chunk)
  const closed = await e.closed
  expect(closed.code).toBe(4400)
  expect(closed.reason).toMatch(reason)
  expect(node.store.docs.readUpdate('x')).toEqual(before)

  const again = await authenticatedPeer(node.url)
  const doc = new Y.Doc()
  doc.getText('body').insert(0, 'from e')
  sendMessage(again, { type: 'updates', updates: [{ name: 'y', update: Y.encodeStateAsUpdate(doc) }] })
  await waitFor('the update from e to be stored', () => node.store.docs.readUpdate('y') !== undefined)
})

test('a node answers a doc-request for a document over the frame limit in chunks no larger than chunkBytes', async () => {
  const node = await startReplicatingNode()
  const big = bigDoc(20)
  expect((await node.store.docs.apply('big', Y.encodeStateAsUpdate(big), 'test')).ok).toBe(true)
  const e = await authenticatedPeer(node.url)
  sendMessage(e, { type: 'doc-request', session: 5, docs: [{ name: 'big', stateVector: Y.encodeStateVector(new Y.Doc()) }] })

  const reassembly = new ChunkReassembly(defaultTransferTuning)
  let reply: ReplicationMessage | undefined
  let chunksSeen = 0
  await waitFor('the whole doc-reply', () => {
    for (const frame of e.frames.splice(0)) {
      if (frame.channel !== PeerChannel.replication) continue
      // A chunk's header is a few varints.
      expect(frame.payload.byteLength).toBeLessThan(chunkBytes + 64)
      // The node also starts a reconciliation as the link comes up.
      const message = decodeReplicationMessage(frame.payload)
      if (message.type !== 'chunk') continue
      chunksSeen++
      const outcome = reassembly.receive('a', message, 0)
      if (outcome.kind === 'complete') reply = decodeReplicationMessage(outcome.payload)
    }
    return reply !== undefined
  }, 20_000)
  expect(chunksSeen).toBeGreaterThanOrEqual(20)
  expect(reply?.type === 'doc-reply' && reply.docs[0]?.holding === 'present' && bodyOf(reply.docs[0].update)).toBe(big.getText('body').toString())
})
