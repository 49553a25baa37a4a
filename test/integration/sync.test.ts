import * as Y from 'yjs'
import { afterEach, describe, expect, test } from 'vitest'
import { encodeQueryAwareness, encodeSyncUpdate, MessageType } from '../../src/protocol/y-websocket.js'
import { connect, connectSynced, destroyProviders, sameState } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { defaultNodeConfig } from '../../src/node.js'
import { rawConnect } from '../helpers/raw-client.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { sleep, waitFor } from '../helpers/wait.js'

afterEach(async () => {
  destroyProviders()
  await closeTestNodes()
  removeTempDirs()
})

describe('stock WebsocketProvider clients', () => {
  test('two clients on one document converge on text and map edits', async () => {
    const node = await startTestNode()
    const a = await connectSynced(node.url, 'notes')
    const b = await connectSynced(node.url, 'notes')
    a.doc.getText('body').insert(0, 'hello ')
    b.doc.getText('body').insert(0, 'world ')
    a.doc.getMap('meta').set('title', 'from a')
    b.doc.getMap('meta').set('owner', 'b')
    await waitFor('convergence', () => sameState(a.doc, b.doc) && b.doc.getMap('meta').size === 2)
    expect(a.doc.getText('body').toString()).toHaveLength(12)
    expect(a.doc.getMap('meta').toJSON()).toEqual({ title: 'from a', owner: 'b' })
  })

  test('awareness states reach the other client and are removed when their client disconnects', async () => {
    const node = await startTestNode()
    const a = await connectSynced(node.url, 'room')
    const b = await connectSynced(node.url, 'room')
    a.awareness.setLocalStateField('user', { name: 'ada' })
    await waitFor('b to see a', () => b.awareness.getStates().get(a.doc.clientID)?.user?.name === 'ada')
    const c = await connectSynced(node.url, 'room')
    await waitFor('a late joiner to receive existing states', () => c.awareness.getStates().has(a.doc.clientID))
    a.disconnect()
    await waitFor('b to drop a', () => !b.awareness.getStates().has(a.doc.clientID))
    expect(c.awareness.getStates().has(a.doc.clientID)).toBe(false)
  })

  test('a client joining a stored document sees it complete on its first sync', async () => {
    const node = await startTestNode()
    const writer = await connectSynced(node.url, 'stored')
    writer.doc.getText('body').insert(0, 'persisted text')
    // The node's copy, not its meta: the meta is visible at the LMDB commit, a moment before the copy has the update.
    await waitFor('the write to be durable', () => node.docs.withDoc('stored', (d) => d.getText('body').toString()) === 'persisted text')
    writer.destroy()
    // Let the room close, so that the next client finds the document only in LMDB.
    await waitFor('the room to close', () => node.docs.loadedCount <= 1)

    const doc = new Y.Doc()
    let textAtSync = ''
    const reader = connect(node.url, 'stored', doc)
    reader.on('sync', (synced: boolean) => {
      if (synced) textAtSync = doc.getText('body').toString()
    })
    await waitFor('sync', () => reader.synced)
    expect(textAtSync).toBe('persisted text')
  })

  test('the sender does not get its own update echoed back', async () => {
    const node = await startTestNode()
    const writer = await rawConnect(node.url, '/echo')
    const reader = await rawConnect(node.url, '/echo')
    await waitFor('greetings', () => writer.frames.length >= 1 && reader.frames.length >= 1)
    const source = new Y.Doc()
    let update: Uint8Array = new Uint8Array()
    source.on('update', (u: Uint8Array) => (update = u))
    source.getText('t').insert(0, 'x')
    const writerFramesBefore = writer.frames.length
    writer.ws.send(encodeSyncUpdate(update))
    await waitFor('the reader to get the update', () => reader.frames.length >= 2)
    await sleep(100)
    expect(writer.frames.length).toBe(writerFramesBefore)
  })

  test('query-awareness is answered with every known state; unknown message types are ignored', async () => {
    const node = await startTestNode()
    const a = await connectSynced(node.url, 'aw')
    a.awareness.setLocalStateField('user', 'x')
    const raw = await rawConnect(node.url, '/aw')
    await waitFor('greeting', () => raw.frames.length >= 2)
    raw.ws.send(Uint8Array.of(77, 1, 2, 3))
    const before = raw.frames.length
    raw.ws.send(encodeQueryAwareness())
    await waitFor('the awareness reply', () => raw.frames.length > before)
    expect(raw.frames.at(-1)![0]).toBe(MessageType.awareness)
    expect(raw.ws.readyState).toBe(raw.ws.OPEN)
  })

  test('a connection that does not answer pings is closed', async () => {
    const node = await startTestNode({ keepaliveIntervalMs: 100 })
    const silent = await rawConnect(node.url, '/ping', { autoPong: false })
    const answering = await rawConnect(node.url, '/ping')
    const closed = await silent.closed
    expect(closed.code).toBe(1006)
    expect(answering.ws.readyState).toBe(answering.ws.OPEN)
  })

  test('a client that stops reading is disconnected at the send-buffer bound, and resyncs when it reconnects', async () => {
    const node = await startTestNode({ clientBudget: { ...defaultNodeConfig.clientBudget, maxBufferedBytes: 256 * 1024 } })
    const slow = await connectSynced(node.url, 'flood')
    const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    socket.pause()
    const writer = await connectSynced(node.url, 'flood')
    const chunk = 'x'.repeat(64 * 1024)
    const dropped = async () => (await node.metrics.slowClientsDropped.get()).values[0]?.value ?? 0
    for (let i = 0; i < 400 && (await dropped()) === 0; i++) {
      writer.doc.getArray('blobs').push([chunk])
      await sleep(5)
    }
    expect(await dropped()).toBe(1)
    expect(writer.wsconnected).toBe(true)
    socket.resume()
    // The provider reconnects on a fresh socket, and sync step 1/2 brings it everything it missed.
    await waitFor('the slow client to catch up', () => sameState(slow.doc, writer.doc))
    expect(slow.doc.getArray('blobs').length).toBe(writer.doc.getArray('blobs').length)
  })
})
