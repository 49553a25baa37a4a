import fc from 'fast-check'
import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import * as decoding from 'lib0/decoding'
import { decodeClientMessage, decodeDurableQuery, encodeDurableQuery } from '../../src/protocol/y-websocket.js'
import { readDeleteRanges, type DeleteRange } from '../../src/protocol/delete-set.js'
import { DurableWait, type DurableState } from '../../src/protocol/durable-wait.js'
import { Room } from '../../src/sync/room.js'
import { applyEdit, contains, durableQueryOf, editedDoc, textEdit } from '../helpers/edited-docs.js'
import { openStore } from '../helpers/store.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterEach(removeTempDirs)

test('a query of the first form, a state vector alone, reads as Y.decodeStateVector reads it, with no delete set', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 10 }), fc.nat(), (entries, id) => {
      const stateVector = Y.encodeStateVector(new Map(entries))
      const message = decodeClientMessage(encodeDurableQuery(id, stateVector))
      expect(message).toEqual({ type: 'durable-query', id, stateVector })
      if (message.type !== 'durable-query') return
      expect(decodeDurableQuery(message.stateVector)).toEqual({ stateVector: Y.decodeStateVector(stateVector), deletions: null })
    }),
  )
})

test("a query with a delete set round-trips, and a node that knows only the first form reads the same state vector from it", () => {
  fc.assert(
    fc.property(editedDoc, (doc) => {
      const query = durableQueryOf(doc)
      const decoded = decodeDurableQuery(query)
      expect(decoded.stateVector).toEqual(Y.decodeStateVector(Y.encodeStateVector(doc)))
      const read = Y.createDeleteSet()
      for (const { client, clock, len } of readDeleteRanges(decoding.createDecoder(decoded.deletions!))) {
        read.clients.set(client, [...(read.clients.get(client) ?? []), { clock, len }])
      }
      expect(Y.equalDeleteSets(read, Y.createDeleteSetFromStructStore(doc.store))).toBe(true)
      expect(Y.decodeStateVector(query)).toEqual(decoded.stateVector)
    }),
  )
})

const deletion = textEdit.map((edit) => ({ ...edit, text: '', deleteCount: 1 + edit.deleteCount }))

test("a room holds a query's state vector and delete set exactly when its document contains the client's", async () => {
  const store = openStore(tempDir())
  let run = 0
  // The case the delete set is for: every struct stored, some deletion not.
  let onlyDeletionsMissing = 0
  await fc.assert(
    fc.asyncProperty(
      fc.array(textEdit, { minLength: 1, maxLength: 8 }),
      fc.array(deletion, { minLength: 1, maxLength: 4 }),
      fc.nat(),
      async (edits, deletions, storedCount) => {
        const name = `doc-${run++}`
        const client = new Y.Doc()
        const updates: Uint8Array[] = []
        client.on('update', (update: Uint8Array) => updates.push(update))
        for (const edit of [...edits, ...deletions]) applyEdit(client, edit)
        const room = new Room(store.docs.open(name))
        try {
          // The node has stored some of the client's updates: the first ones, as a socket delivers them.
          for (const update of updates.slice(0, storedCount % (updates.length + 1))) {
            expect(await store.docs.apply(name, update, 'test')).toEqual({ ok: true })
          }
          const query = decodeDurableQuery(durableQueryOf(client))
          const structsHeld = [...query.stateVector].every(([id, clock]) => Y.getState(room.doc.store, id) >= clock)
          const held = contains(room.doc, client)
          if (structsHeld && !held) onlyDeletionsMissing++
          expect(new DurableWait(query).covered(room)).toBe(held)
        } finally {
          room.destroy()
        }
      },
    ),
    // Random runs find that case often but not always: this one is it (an insert stored, the deletion after it not).
    { numRuns: 100, examples: [[[{ client: 1, at: 0, text: 'ab', deleteCount: 0 }], [{ client: 1, at: 0, text: '', deleteCount: 1 }], 1]] },
  )
  expect(onlyDeletionsMissing).toBeGreaterThan(0)
  await store.close()
})

/** A stored state that deletes what `held` says, counting the ranges it is asked about. */
function countingState(held: (range: DeleteRange) => boolean) {
  const state = {
    clocks: new Map<number, number>(),
    deleteSetVersion: 0,
    asked: 0,
    clockOf: (client: number) => state.clocks.get(client) ?? 0,
    deletes(range: DeleteRange) {
      state.asked++
      return held(range)
    },
  }
  return state satisfies DurableState
}

/** A query for `count` ranges of client 1, each one id apart, after one struct of client 1. */
function queryOfRanges(count: number) {
  const ds = Y.createDeleteSet()
  ds.clients.set(1, Array.from({ length: count }, (_, i) => ({ clock: 2 * i, len: 1 })))
  const message = decodeClientMessage(encodeDurableQuery(0, Y.encodeStateVector(new Map([[1, 1]])), ds))
  if (message.type !== 'durable-query') throw new Error(`a durability query decoded as ${message.type}`)
  return decodeDurableQuery(message.stateVector)
}

test('a waiting query looks again only at its first range not held yet, and only once the delete set has grown', () => {
  let heldUpTo = 0
  const state = countingState(({ clock }) => clock < heldUpTo)
  const wait = new DurableWait(queryOfRanges(10_000))
  // The structs first: no range is looked at before they are held.
  expect(wait.covered(state)).toBe(false)
  expect(state.asked).toBe(0)
  state.clocks.set(1, 1)
  expect(wait.covered(state)).toBe(false)
  expect(state.asked).toBe(1)
  // Changes that delete nothing cost no look-up at all.
  for (let change = 0; change < 100; change++) expect(wait.covered(state)).toBe(false)
  expect(state.asked).toBe(1)
  // Half the ranges held: each is looked at once more, and the first of the rest once.
  heldUpTo = 10_000
  state.deleteSetVersion++
  expect(wait.covered(state)).toBe(false)
  expect(state.asked).toBe(1 + 5_000 + 1)
  heldUpTo = 20_000
  state.deleteSetVersion++
  expect(wait.covered(state)).toBe(true)
  expect(state.asked).toBe(1 + 5_000 + 1 + 5_000)
})

test('a query of the first form waits for its state vector alone, as before', () => {
  const state = countingState(() => false)
  const wait = new DurableWait(decodeDurableQuery(Y.encodeStateVector(new Map([[1, 3], [2, 1]]))))
  state.clocks.set(1, 3)
  expect(wait.covered(state)).toBe(false)
  state.clocks.set(2, 1)
  expect(wait.covered(state)).toBe(true)
  expect(state.asked).toBe(0)
})

test("a room's delete-set version moves on every change that deletes, or adds structs already deleted, and on no other", async () => {
  const store = openStore(tempDir())
  const room = new Room(store.docs.open('versions'))
  try {
    const apply = async (update: Uint8Array) => expect(await store.docs.apply('versions', update, 'test')).toEqual({ ok: true })
    const writer = new Y.Doc()
    const body = writer.getText('body')
    const nextUpdate = (change: () => void) => {
      const before = Y.encodeStateVector(writer)
      change()
      return Y.encodeStateAsUpdate(writer, before)
    }
    const version = room.deleteSetVersion
    await apply(nextUpdate(() => body.insert(0, 'abcdef')))
    expect(room.deleteSetVersion).toBe(version)
    expect(room.deletes({ client: writer.clientID, clock: 1, len: 1 })).toBe(false)
    await apply(nextUpdate(() => body.delete(1, 1)))
    expect(room.deleteSetVersion).toBe(version + 1)
    expect(room.deletes({ client: writer.clientID, clock: 1, len: 1 })).toBe(true)
    // A key set in a map by a client that then learns the map was deleted: yjs collects the key's entry
    // into a GC struct, which the update carries as a struct whose deletion the node holds no item for.
    const list = writer.getArray<Y.Map<number>>('list')
    await apply(nextUpdate(() => list.insert(0, [new Y.Map<number>()])))
    const offline = new Y.Doc()
    Y.applyUpdate(offline, Y.encodeStateAsUpdate(writer))
    offline.getArray<Y.Map<number>>('list').get(0).set('n', 1)
    await apply(nextUpdate(() => list.delete(0, 1)))
    expect(room.deleteSetVersion).toBe(version + 2)
    Y.applyUpdate(offline, Y.encodeStateAsUpdate(writer))
    const update = Y.encodeStateAsUpdate(offline, Y.encodeStateVector(writer))
    expect(Y.decodeUpdate(update).structs.map((struct) => struct.constructor)).toEqual([Y.GC])
    await apply(update)
    expect(room.deleteSetVersion).toBe(version + 3)
    expect(room.deletes({ client: offline.clientID, clock: 0, len: 1 })).toBe(true)
  } finally {
    room.destroy()
    await store.close()
  }
})
