import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { open } from 'lmdb'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { createClient, type SyncmeshClient } from '../../client/index.js'
import { readStoredUpdates } from '../../src/docs/stored-updates.js'
import { CloseCode } from '../../src/protocol/close-codes.js'
import { DocStorage } from '../../src/storage/doc-storage.js'
import { MessageType, encodeDurableQuery, maxDurableQueryDeletionBytes } from '../../src/protocol/y-websocket.js'
import { splitDeleteSet } from '../../src/protocol/delete-set.js'
import { connectSynced, destroyProviders } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { NodeProcess, killAllNodes } from '../helpers/node-process.js'
import { rawConnect } from '../helpers/raw-client.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { sleep, waitFor } from '../helpers/wait.js'

const clients: SyncmeshClient[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close()
  destroyProviders()
  await closeTestNodes()
  await killAllNodes()
  removeTempDirs()
})

async function readText(url: string, name: string): Promise<string> {
  const res = await fetch(`${url}/v1/docs/${encodeURIComponent(name)}`)
  expect(res.status).toBe(200)
  return ((await res.json()) as { body?: string }).body ?? ''
}

/** The ids of the durability answers among `frames`. */
function answeredIds(frames: Uint8Array[]): number[] {
  return frames.flatMap((frame) => {
    const decoder = decoding.createDecoder(frame)
    return decoding.readVarUint(decoder) === MessageType.durable ? [decoding.readVarUint(decoder)] : []
  })
}

const queryFor = (id: number, doc: Y.Doc) =>
  encodeDurableQuery(id, Y.encodeStateVector(doc), Y.createDeleteSetFromStructStore(doc.store))

/** The text of `name` as committed in the LMDB environment at `dataDir`, read by this process. */
function committedText(dataDir: string, name: string): string {
  const env = open({ path: dataDir, readOnly: true })
  try {
    const doc = new Y.Doc()
    for (const update of readStoredUpdates(new DocStorage(env, 'doc', null), name)?.updates ?? []) Y.applyUpdate(doc, update)
    return doc.getText('body').toString()
  } finally {
    void env.close()
  }
}

test('whenDurable after changes that only delete resolves once each deletion is committed, and they survive kill -9', async () => {
  const dataDir = tempDir()
  const node = await NodeProcess.start(['--data', dataDir])
  const client = createClient({ endpoints: [node.url], WebSocketPolyfill: WebSocket })
  clients.push(client)
  const notes = client.open('notes')
  await notes.whenSynced
  const body = notes.doc.getText('body')
  body.insert(0, 'keep this, delete the rest of it')
  await notes.whenDurable()
  const stateVector = Y.encodeStateVector(notes.doc)
  // One character at a time, each checked at once: the node is stopped as the answer arrives, before it can
  // commit anything more, and its storage read from here.
  while (body.length > 'keep this'.length) {
    body.delete(body.length - 1, 1)
    await notes.whenDurable()
    node.signal('SIGSTOP')
    const committed = committedText(dataDir, 'notes')
    node.signal('SIGCONT')
    expect(committed).toBe(body.toString())
  }
  expect(Y.encodeStateVector(notes.doc)).toEqual(stateVector)
  await node.kill('SIGKILL')
  const restarted = await NodeProcess.start(['--data', dataDir])
  expect(await readText(restarted.url, 'notes')).toBe('keep this')
})

test('a query with a delete set waits for the deletion; one of the first form, state vector only, is answered as before', async () => {
  const node = await startTestNode()
  const writer = await connectSynced(node.url, 'q')
  writer.doc.getText('body').insert(0, 'abc')
  await waitFor('the insert to be stored', () => node.docs.withDoc('q', (doc) => doc.getText('body').toString()) === 'abc')
  // What the writer is about to send: the same structs, one more deletion.
  const ahead = new Y.Doc()
  Y.applyUpdate(ahead, Y.encodeStateAsUpdate(writer.doc))
  ahead.getText('body').delete(1, 1)

  const asker = await rawConnect(node.url, '/q')
  asker.ws.send(queryFor(1, ahead))
  asker.ws.send(encodeDurableQuery(2, Y.encodeStateVector(ahead)))
  await waitFor('the query of the first form to be answered', () => answeredIds(asker.frames).includes(2))
  await sleep(100)
  expect(answeredIds(asker.frames)).toEqual([2])

  Y.applyUpdate(writer.doc, Y.encodeStateAsUpdate(ahead))
  await waitFor('the query with a delete set to be answered', () => answeredIds(asker.frames).includes(1))
  expect(node.docs.withDoc('q', (doc) => doc.getText('body').toString())).toBe('ac')
})

test('a durability query with a malformed delete set closes the connection 4400, as a malformed state vector does', async () => {
  const node = await startTestNode()
  const stateVector = Y.encodeStateVector(new Map([[7, 3]]))
  const malformed = (query: Uint8Array) => {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, MessageType.durable)
    encoding.writeVarUint(encoder, 1)
    encoding.writeVarUint8Array(encoder, query)
    return encoding.toUint8Array(encoder)
  }
  for (const query of [Uint8Array.of(...stateVector, 5, 1), Uint8Array.of(3, 1)]) {
    const asker = await rawConnect(node.url, '/m')
    asker.ws.send(malformed(query))
    expect((await asker.closed).code).toBe(CloseCode.malformedMessage)
  }
})

/** A delete set of `count` one-id ranges of client 1, each one id apart. */
function spacedDeletions(count: number) {
  const ds = Y.createDeleteSet()
  ds.clients.set(1, Array.from({ length: count }, (_, i) => ({ clock: 2 * i, len: 1 })))
  return ds
}

test('a durability query whose delete set passes the bound closes the connection 4413, saying so; one within it waits', async () => {
  const node = await startTestNode()
  const stateVector = Y.encodeStateVector(new Map())
  const within = splitDeleteSet(spacedDeletions(30_000), maxDurableQueryDeletionBytes)[0]!
  const asker = await rawConnect(node.url, '/big')
  asker.ws.send(encodeDurableQuery(1, stateVector, within))
  // Answered at once, after the first was taken: the node handles a connection's messages in order.
  asker.ws.send(encodeDurableQuery(2, stateVector))
  await waitFor('the query of the first form to be answered', () => answeredIds(asker.frames).includes(2))
  asker.ws.send(encodeDurableQuery(3, stateVector, spacedDeletions(30_000)))
  const closed = await asker.closed
  expect(closed.code).toBe(CloseCode.tooLarge)
  expect(closed.reason).toContain(`${maxDurableQueryDeletionBytes} bytes`)
  expect(answeredIds(asker.frames)).toEqual([2])
})

test('whenDurable with more deletions than one query may carry resolves, and only once every deletion is stored', async () => {
  const node = await startTestNode()
  const client = createClient({ endpoints: [node.url], WebSocketPolyfill: WebSocket })
  clients.push(client)
  const notes = client.open('spaced')
  await notes.whenSynced
  const failed = new Promise<string>((resolve) => notes.onStatus(({ state, error }) => state === 'failed' && resolve(`failed: ${error?.code}`)))
  const durable = async () => Promise.race([notes.whenDurable().then(() => 'durable'), failed])
  const stored = () => node.docs.withDoc('spaced', (doc) => doc.getText('body').toString())
  const body = notes.doc.getText('body')
  body.insert(0, 'x'.repeat(40_000))
  expect(await durable()).toBe('durable')
  // Every other character: as many deletions as ranges, too many for one query.
  notes.doc.transact(() => {
    for (let at = body.length - 1; at > 0; at -= 2) body.delete(at, 1)
  })
  const deletions = Y.encodeSnapshot(Y.createSnapshot(Y.createDeleteSetFromStructStore(notes.doc.store), new Map()))
  expect(deletions.byteLength).toBeGreaterThan(maxDurableQueryDeletionBytes)
  expect(await durable()).toBe('durable')
  expect(stored()).toBe(body.toString())
  // Later calls ask for the deletions not confirmed yet, and still wait for them.
  body.delete(0, 3)
  expect(await durable()).toBe('durable')
  expect(stored()).toBe(body.toString())
})
