import * as encoding from 'lib0/encoding'
import type WebSocket from 'ws'
import * as Y from 'yjs'
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { WebsocketProvider } from 'y-websocket'
import { encodeAwareness } from '../../src/protocol/y-websocket.js'
import type { SyncmeshNode } from '../../src/node.js'
import { maxAwarenessIdsPerConnection, maxAwarenessStateBytes, maxRefusedAwarenessIdsPerConnection } from '../../src/sync/awareness-guard.js'
import { connectSynced, destroyProviders } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { rawConnect } from '../helpers/raw-client.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

let node: SyncmeshNode
const rawSockets: WebSocket[] = []
const scratchAwareness: Awareness[] = []

beforeAll(async () => {
  node = await startTestNode()
})

afterAll(async () => {
  for (const ws of rawSockets.splice(0)) ws.terminate()
  for (const awareness of scratchAwareness.splice(0)) awareness.destroy()
  destroyProviders()
  await closeTestNodes()
  removeTempDirs()
})

async function attackerOn(docName: string) {
  const client = await rawConnect(node.url, `/${docName}`)
  rawSockets.push(client.ws)
  return client
}

/** An Awareness as a stock client holds one, on a document with the given client id. */
function scratch(clientId?: number): Awareness {
  const doc = new Y.Doc()
  if (clientId !== undefined) doc.clientID = clientId
  const awareness = new Awareness(doc)
  scratchAwareness.push(awareness)
  return awareness
}

const ownFrame = (awareness: Awareness): Uint8Array => encodeAwareness(encodeAwarenessUpdate(awareness, [awareness.clientID]))

/** One awareness frame of `count` entries at clock 1, for the client ids from `firstId` on, each with `stateJson`. */
function floodFrame(firstId: number, count: number, stateJson: string): Uint8Array {
  const update = encoding.createEncoder()
  encoding.writeVarUint(update, count)
  for (let i = 0; i < count; i++) {
    encoding.writeVarUint(update, firstId + i)
    encoding.writeVarUint(update, 1)
    encoding.writeVarString(update, stateJson)
  }
  return encodeAwareness(encoding.toUint8Array(update))
}

/** Client ids from 2^21 up to 2^28 take exactly 4 bytes as varUints. */
const floodFirstId = 2 ** 21

/** Writes `n` over the 4-byte varUint at `at`, as lib0 writes one (2^21 ≤ n < 2^28). */
function writeVarUint4(bytes: Uint8Array, at: number, n: number): void {
  bytes[at] = (n & 0x7f) | 0x80
  bytes[at + 1] = ((n >>> 7) & 0x7f) | 0x80
  bytes[at + 2] = ((n >>> 14) & 0x7f) | 0x80
  bytes[at + 3] = n >>> 21
}

/**
 * `frames` flood frames, each for new client ids. They are one buffer with its ids rewritten in place:
 * building twelve would put the test's own garbage into the RSS it measures.
 */
function floodFrames(frames: number, entries: number, stateJson: string): Iterable<Uint8Array> {
  const frame = floodFrame(floodFirstId, entries, stateJson)
  const entryBytes = 4 + 1 + 1 + stateJson.length // client id, clock, state length, state
  const firstEntryAt = frame.length - entries * entryBytes
  return {
    *[Symbol.iterator]() {
      for (let f = 0; f < frames; f++) {
        for (let i = 0; i < entries; i++) writeVarUint4(frame, firstEntryAt + i * entryBytes, floodFirstId + f * entries + i)
        yield frame
      }
    },
  }
}

const sendFrame = (ws: WebSocket, frame: Uint8Array) => new Promise<void>((resolve) => ws.send(frame, () => resolve()))

const userOf = (provider: WebsocketProvider, clientId: number): unknown =>
  (provider.awareness.getStates().get(clientId) as { user?: unknown } | undefined)?.user

const floodFrameCount = 12
const floodEntries = 500_000
const rssSlackBytes = 100 * 1024 * 1024

describe('presence belongs to the client that announced it', () => {
  test("an attacker's socket can neither change nor remove a stock client's presence as a third client sees it", async () => {
    const alice = await connectSynced(node.url, 'presence')
    alice.awareness.setLocalStateField('user', 'alice')
    const observer = await connectSynced(node.url, 'presence')
    await waitFor('the observer to see alice', () => userOf(observer, alice.doc.clientID) === 'alice')

    const attacker = await attackerOn('presence')
    const impostor = scratch(alice.doc.clientID)
    for (let i = 0; i < 10; i++) impostor.setLocalStateField('user', 'mallory')
    attacker.ws.send(ownFrame(impostor))
    impostor.setLocalState(null)
    attacker.ws.send(ownFrame(impostor))
    // Frames of one socket are handled in order: once the attacker's own state is seen, the node has read the rest.
    const own = scratch()
    own.setLocalStateField('user', 'attacker')
    attacker.ws.send(ownFrame(own))
    await waitFor("the observer to see the attacker's own state", () => userOf(observer, own.clientID) === 'attacker')

    expect(userOf(observer, alice.doc.clientID)).toBe('alice')
    alice.awareness.setLocalStateField('user', 'alice, moved')
    await waitFor("alice's next change to reach the observer", () => userOf(observer, alice.doc.clientID) === 'alice, moved')
  })

  test('a socket that keeps claiming ids it may not is closed 4400 with a reason', async () => {
    const attacker = await attackerOn('claims')
    const tooMany = maxAwarenessIdsPerConnection + maxRefusedAwarenessIdsPerConnection + 1
    attacker.ws.send(floodFrame(1, tooMany, '{}'))
    const closed = await attacker.closed
    expect(closed.code).toBe(4400)
    expect(closed.reason).toMatch(/awareness refused for over 8 client ids/)
  })

  test('a state over 64 KiB closes 4413', async () => {
    const attacker = await attackerOn('big-state')
    attacker.ws.send(floodFrame(1, 1, JSON.stringify({ cursor: 'x'.repeat(maxAwarenessStateBytes) })))
    const closed = await attacker.closed
    expect(closed.code).toBe(4413)
    expect(closed.reason).toMatch(/awareness state of client 1 is \d+ bytes; the limit is 65536/)
  })

  test("a leaving client's states are removed for the others", async () => {
    const observer = await connectSynced(node.url, 'leaving')
    const leaver = await attackerOn('leaving')
    const own = scratch()
    own.setLocalStateField('user', 'leaver')
    leaver.ws.send(ownFrame(own))
    await waitFor('the observer to see the leaver', () => userOf(observer, own.clientID) === 'leaver')
    leaver.ws.terminate()
    await waitFor('the observer to see the leaver gone', () => !observer.awareness.getStates().has(own.clientID))
  })

  test('awareness crosses between honest clients, and their echoes of each other never get them closed', async () => {
    const names = ['ada', 'bob', 'cy']
    const closes: number[] = []
    const clients = await Promise.all(names.map(() => connectSynced(node.url, 'honest')))
    for (const client of clients) client.on('connection-close', (event) => closes.push(event?.code ?? 0))
    clients.forEach((client, i) => client.awareness.setLocalStateField('user', names[i]))
    const everyoneSees = (suffix: string) => () =>
      clients.every((viewer) => clients.every((client, i) => userOf(viewer, client.doc.clientID) === names[i] + suffix))
    await waitFor('every client to see every other', everyoneSees(''))
    for (let round = 1; round <= 5; round++) {
      clients.forEach((client, i) => client.awareness.setLocalStateField('user', `${names[i]} ${round}`))
      await waitFor(`round ${round} to reach everyone`, everyoneSees(` ${round}`))
    }
    const late = await connectSynced(node.url, 'honest')
    await waitFor('a late joiner to see everyone', () => clients.every((client, i) => userOf(late, client.doc.clientID) === `${names[i]} 5`))
    expect(closes).toEqual([])
  })
})

describe('a flood of awareness costs the node no memory', () => {
  test(`${floodFrameCount} frames of ${floodEntries} removals for ids nobody holds store nothing, and edits keep flowing`, async () => {
    const writer = await connectSynced(node.url, 'flood')
    const reader = await connectSynced(node.url, 'flood')
    const attacker = await attackerOn('flood')
    const flood = floodFrames(floodFrameCount, floodEntries, 'null')
    let sent = 0
    const rssBefore = process.memoryUsage().rss
    for (const frame of flood) {
      await sendFrame(attacker.ws, frame)
      writer.doc.getMap('edits').set('frame', ++sent)
      await waitFor(`the edit after flood frame ${sent} to arrive`, () => reader.doc.getMap('edits').get('frame') === sent)
    }
    const own = scratch()
    own.setLocalStateField('user', 'attacker')
    attacker.ws.send(ownFrame(own))
    await waitFor('the node to have read every flood frame', () => userOf(reader, own.clientID) === 'attacker')
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(rssSlackBytes)
    expect([...reader.awareness.getStates().keys()].sort()).toEqual([reader.doc.clientID, own.clientID].sort())
  })

  test(`${floodFrameCount} frames of ${floodEntries} new client ids close the socket 4400 at the first ids past its budget`, async () => {
    const writer = await connectSynced(node.url, 'flood-states')
    const reader = await connectSynced(node.url, 'flood-states')
    const attacker = await attackerOn('flood-states')
    const flood = floodFrames(floodFrameCount, floodEntries, '{"user":"one of many"}')
    const rssBefore = process.memoryUsage().rss
    for (const frame of flood) await sendFrame(attacker.ws, frame)
    expect((await attacker.closed).code).toBe(4400)
    writer.doc.getMap('edits').set('after', 'the flood')
    await waitFor('an edit to arrive after the flood', () => reader.doc.getMap('edits').get('after') === 'the flood')
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(rssSlackBytes)
    expect(reader.awareness.getStates().size).toBe(1)
  })
})
