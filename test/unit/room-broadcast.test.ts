import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { decodeClientMessage } from '../../src/protocol/y-websocket.js'
import type { FramedMessage } from '../../src/protocol/ws-frame.js'
import { Room, type RoomMember } from '../../src/sync/room.js'
import { openStore } from '../helpers/store.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterEach(removeTempDirs)

/** A member that keeps the update of every sync message the room sends it. */
class RecordingMember implements RoomMember {
  readonly updates: Uint8Array[] = []
  sendFramed({ payload, wire }: FramedMessage): void {
    // What goes on the wire is the payload behind a WebSocket header.
    expect(wire.subarray(wire.length - payload.length).equals(Buffer.from(payload))).toBe(true)
    const message = decodeClientMessage(payload)
    if (message.type === 'sync-update') this.updates.push(message.update)
  }
}

function insertBy(client: number, text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = client
  doc.getText('body').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

test('updates of many writers in one group commit reach each reader as one merged message', async () => {
  const { docs } = openStore(tempDir())
  const room = new Room(docs.open('burst'))
  const writers = Array.from({ length: 20 }, () => new RecordingMember())
  const reader = new RecordingMember()
  for (const member of [...writers, reader]) room.join(member)

  // All in the same turn of the event loop, as updates arriving together on many sockets are.
  const applied = writers.map((writer, i) => docs.apply('burst', insertBy(i + 1, `w${i}`), writer))
  expect(await Promise.all(applied)).toEqual(writers.map(() => ({ ok: true })))

  expect(reader.updates).toHaveLength(1)
  const merged = new Y.Doc()
  Y.applyUpdate(merged, reader.updates[0]!)
  expect([...Y.decodeStateVector(Y.encodeStateVector(merged)).keys()].sort((a, b) => a - b)).toEqual(writers.map((_, i) => i + 1))
  // A writer gets the merged update too: its own part is a no-op to it.
  for (const writer of writers) expect(writer.updates).toHaveLength(1)
  room.destroy()
})

test('updates of one writer are not echoed back to it', async () => {
  const { docs } = openStore(tempDir())
  const room = new Room(docs.open('solo'))
  const writer = new RecordingMember()
  const reader = new RecordingMember()
  room.join(writer)
  room.join(reader)
  await Promise.all([docs.apply('solo', insertBy(1, 'a'), writer), docs.apply('solo', insertBy(2, 'b'), writer)])
  expect(writer.updates).toEqual([])
  expect(reader.updates).toHaveLength(1)
  const merged = new Y.Doc()
  Y.applyUpdate(merged, reader.updates[0]!)
  expect(merged.getText('body').length).toBe(2)
  room.destroy()
})
