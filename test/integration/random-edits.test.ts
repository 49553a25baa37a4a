import fc from 'fast-check'
import * as Y from 'yjs'
import { afterAll, expect, test } from 'vitest'
import { connectSynced, destroyProviders, sameState } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

afterAll(async () => {
  destroyProviders()
  await closeTestNodes()
  removeTempDirs()
})

type Edit =
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'set'; key: string; value: number }
  | { kind: 'push'; value: string }
  | { kind: 'pause' }

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('set' as const), key: fc.constantFrom('a', 'b', 'c'), value: fc.integer() }),
  fc.record({ kind: fc.constant('push' as const), value: fc.string({ maxLength: 4 }) }),
  fc.constant({ kind: 'pause' as const }),
)

const docCount = 100
const clientsPerDoc = 3
/** Edits of each client of each document. */
const scenario = fc.array(fc.array(fc.array(edit, { maxLength: 12 }), { minLength: clientsPerDoc, maxLength: clientsPerDoc }), {
  minLength: docCount,
  maxLength: docCount,
})

function perform(doc: Y.Doc, e: Edit): void {
  const text = doc.getText('body')
  switch (e.kind) {
    case 'insert':
      text.insert(e.at % (text.length + 1), e.text)
      break
    case 'delete':
      if (text.length > 0) {
        const at = e.at % text.length
        text.delete(at, Math.min(e.length, text.length - at))
      }
      break
    case 'set':
      doc.getMap('meta').set(e.key, e.value)
      break
    case 'push':
      doc.getArray('items').push([e.value])
      break
    case 'pause':
      break
  }
}

test('100 documents × 3 clients of random concurrent edits converge, and the node stores the same state', async () => {
  const node = await startTestNode()
  let run = 0
  await fc.assert(
    fc.asyncProperty(scenario, async (docs) => {
      run++
      const clients = await Promise.all(
        docs.map((perClient, d) =>
          Promise.all(perClient.map(() => connectSynced(node.url, `run${run}/doc${d}`))),
        ),
      )
      // Interleave: every client does its next edit, then everyone yields so frames cross in flight.
      const longest = Math.max(...docs.flat().map((edits) => edits.length))
      for (let step = 0; step < longest; step++) {
        docs.forEach((perClient, d) =>
          perClient.forEach((edits, c) => {
            const e = edits[step]
            if (e) perform(clients[d]![c]!.doc, e)
          }),
        )
        await new Promise((resolve) => setImmediate(resolve))
      }
      await waitFor('every document to converge', () =>
        clients.every(([first, ...rest]) => rest.every((other) => sameState(first!.doc, other.doc))),
      )
      await waitFor('the node to hold what the clients hold', () =>
        clients.every((perDoc, d) => {
          const stored = node.docs.readUpdate(`run${run}/doc${d}`)
          const touched = docs[d]!.some((edits) => edits.some((e) => e.kind !== 'pause'))
          if (!stored) return !touched
          const copy = new Y.Doc()
          Y.applyUpdate(copy, stored)
          return sameState(copy, perDoc[0]!.doc)
        }),
      )
      for (const perDoc of clients) {
        const [first, ...rest] = perDoc.map((provider) => provider.doc)
        for (const other of rest) {
          expect(other.getText('body').toString()).toBe(first!.getText('body').toString())
          expect(other.getMap('meta').toJSON()).toEqual(first!.getMap('meta').toJSON())
          expect(other.getArray('items').toJSON()).toEqual(first!.getArray('items').toJSON())
        }
        for (const provider of perDoc) provider.destroy()
      }
    }),
    { numRuns: 2, endOnFailure: true },
  )
  expect(run).toBe(2)
})
