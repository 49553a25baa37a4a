import fc from 'fast-check'
import * as Y from 'yjs'
import { describe, expect, test } from 'vitest'
import { StateVectorTracker } from '../../src/changes/state-vectors.js'

/** Updates of `edits` made by a few clients taking turns on one text, each update as the editing client sent it. */
function editUpdates(edits: { client: number; at: number; del: boolean }[]): { updates: Uint8Array[]; doc: Y.Doc } {
  const doc = new Y.Doc()
  const clients = new Map<number, Y.Doc>()
  const updates: Uint8Array[] = []
  for (const { client, at, del } of edits) {
    let local = clients.get(client)
    if (!local) {
      local = new Y.Doc()
      local.clientID = client
      Y.applyUpdate(local, Y.encodeStateAsUpdate(doc))
      clients.set(client, local)
    } else Y.applyUpdate(local, Y.encodeStateAsUpdate(doc, Y.encodeStateVector(local)))
    const text = local.getText('body')
    const before = Y.encodeStateVector(local)
    if (del && text.length > 0) text.delete(at % text.length, 1)
    else text.insert(at % (text.length + 1), 'ab')
    const update = Y.encodeStateAsUpdate(local, before)
    Y.applyUpdate(doc, update)
    updates.push(update)
  }
  return { updates, doc }
}

const edits = fc.array(fc.record({ client: fc.integer({ min: 1, max: 4 }), at: fc.nat(), del: fc.boolean() }), { minLength: 1, maxLength: 30 })

describe('state vectors followed through commits', () => {
  test("following a document's updates from any point gives its state vector after each", () => {
    fc.assert(
      fc.property(edits, fc.nat(), (steps, startAt) => {
        const { updates } = editUpdates(steps)
        const start = startAt % updates.length
        const doc = new Y.Doc()
        for (const update of updates.slice(0, start)) Y.applyUpdate(doc, update)
        const tracker = new StateVectorTracker(10)
        tracker.set('d', start, Y.encodeStateVector(doc))
        for (let i = start; i < updates.length; i++) {
          Y.applyUpdate(doc, updates[i]!)
          tracker.committed('d', i + 1, [updates[i]!])
          expect(tracker.get('d', i + 1)).toEqual(Y.encodeStateVector(doc))
        }
      }),
    )
  })

  test('an update that leaves a gap, or a commit it did not see, drops the document rather than claim too much', () => {
    const { updates } = editUpdates([
      { client: 1, at: 0, del: false },
      { client: 1, at: 0, del: false },
      { client: 1, at: 0, del: false },
    ])
    const tracker = new StateVectorTracker(10)
    tracker.set('gap', 1, Y.encodeStateVector(docOf(updates.slice(0, 1))))
    tracker.committed('gap', 2, [updates[2]!])
    expect(tracker.get('gap', 2)).toBeUndefined()

    tracker.set('skipped', 1, Y.encodeStateVector(docOf(updates.slice(0, 1))))
    tracker.committed('skipped', 3, [updates[2]!])
    expect(tracker.get('skipped', 3)).toBeUndefined()

    // A commit already visible when the state vector was read is in it.
    tracker.set('read-late', 2, Y.encodeStateVector(docOf(updates.slice(0, 2))))
    tracker.committed('read-late', 2, [updates[1]!])
    expect(tracker.get('read-late', 2)).toEqual(Y.encodeStateVector(docOf(updates.slice(0, 2))))

    const merged = Y.mergeUpdates([updates[0]!, updates[2]!])
    tracker.set('skip', 0, new Uint8Array([0]))
    tracker.committed('skip', 1, [merged])
    expect(tracker.get('skip', 1)).toBeUndefined()
  })

  test('it keeps at most its bound of documents, dropping the least recently set', () => {
    const tracker = new StateVectorTracker(2)
    for (const name of ['a', 'b', 'c']) tracker.set(name, 1, new Uint8Array([0]))
    expect(tracker.get('a', 1)).toBeUndefined()
    expect(tracker.get('c', 1)).toEqual(new Uint8Array([0]))
  })
})

function docOf(updates: Uint8Array[]): Y.Doc {
  const doc = new Y.Doc()
  for (const update of updates) Y.applyUpdate(doc, update)
  return doc
}
