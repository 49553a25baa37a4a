import fc from 'fast-check'
import * as Y from 'yjs'
import { expect, test } from 'vitest'
import { snapshotContains } from '../../src/docs/snapshot-containment.js'

type Edit = { client: number; insertAt: number; text: string } | { client: number; deleteAt: number; length: number }

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ client: fc.constantFrom(1, 2, 3), insertAt: fc.nat(30), text: fc.string({ minLength: 1, maxLength: 4 }) }),
  fc.record({ client: fc.constantFrom(1, 2, 3), deleteAt: fc.nat(30), length: fc.integer({ min: 1, max: 5 }) }),
)

/** Replicas of one document, one per client id, that exchange everything before each edit. */
function play(edits: readonly Edit[], into: Map<number, Y.Doc>): void {
  for (const e of edits) {
    let doc = into.get(e.client)
    if (!doc) {
      doc = new Y.Doc()
      doc.clientID = e.client
      into.set(e.client, doc)
    }
    for (const other of into.values()) if (other !== doc) Y.applyUpdate(doc, Y.encodeStateAsUpdate(other))
    const text = doc.getText('body')
    if ('text' in e) text.insert(Math.min(e.insertAt, text.length), e.text)
    else if (text.length > 0) {
      const at = Math.min(e.deleteAt, text.length - 1)
      text.delete(at, Math.min(e.length, text.length - at))
    }
  }
}

function merged(docs: Iterable<Y.Doc>): Y.Doc {
  const doc = new Y.Doc()
  for (const d of docs) Y.applyUpdate(doc, Y.encodeStateAsUpdate(d))
  return doc
}

test('a document holds the snapshot of any earlier state of itself, and of a replica only if it holds all of that replica', () => {
  fc.assert(
    fc.property(fc.array(edit, { maxLength: 25 }), fc.array(edit, { maxLength: 10 }), (before, after) => {
      const replicas = new Map<number, Y.Doc>()
      play(before, replicas)
      const earlier = Y.snapshot(merged(replicas.values()))
      // One replica goes on alone: it holds everything before, and perhaps more.
      const alone = new Map([[9, merged(replicas.values())]])
      alone.get(9)!.clientID = 9
      play(after.map((e) => ({ ...e, client: 9 })), alone)
      const later = Y.snapshot(alone.get(9)!)
      expect(snapshotContains(later, earlier)).toBe(true)
      expect(snapshotContains(earlier, earlier)).toBe(true)
      // The earlier state holds the later one exactly when the later one added nothing.
      expect(snapshotContains(earlier, later)).toBe(Y.equalSnapshots(earlier, later))
    }),
    { numRuns: 1_000 },
  )
})

test('a deletion the holder lacks, or a struct past its state vector, is not held', () => {
  const doc = new Y.Doc()
  doc.clientID = 1
  doc.getText('body').insert(0, 'hello')
  const inserted = Y.snapshot(doc)
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
  doc.getText('body').delete(1, 2)
  // Same state vector, one more deletion: only the delete set tells them apart.
  expect(Y.encodeStateVector(copy)).toEqual(Y.encodeStateVector(doc))
  expect(snapshotContains(Y.snapshot(copy), Y.snapshot(doc))).toBe(false)
  expect(snapshotContains(Y.snapshot(doc), inserted)).toBe(true)
  expect(snapshotContains(Y.emptySnapshot, inserted)).toBe(false)
  expect(snapshotContains(inserted, Y.emptySnapshot)).toBe(true)
})
