import fc from 'fast-check'
import * as Y from 'yjs'
import { decodeClientMessage, encodeDurableQuery } from '../../src/protocol/y-websocket.js'

/** One edit of a text by one of a few clients: insert `text` at `at`, then delete `deleteCount` characters there. */
export type TextEdit = { client: number; at: number; text: string; deleteCount: number }

export const textEdit: fc.Arbitrary<TextEdit> = fc.record({
  client: fc.integer({ min: 1, max: 3 }),
  at: fc.nat(60),
  text: fc.string({ maxLength: 6 }),
  deleteCount: fc.nat(8),
})

/** Applies `edit` to `doc` as its client would, in one transaction. */
export function applyEdit(doc: Y.Doc, { client, at, text, deleteCount }: TextEdit): void {
  doc.clientID = client
  const body = doc.getText('body')
  const from = Math.min(at, body.length)
  doc.transact(() => {
    body.insert(from, text)
    body.delete(from, Math.min(deleteCount, body.length - from))
  })
}

/** A document made by a few clients' edits, with insertions and deletions. */
export const editedDoc: fc.Arbitrary<Y.Doc> = fc.array(textEdit, { maxLength: 12 }).map((edits) => {
  const doc = new Y.Doc()
  for (const edit of edits) applyEdit(doc, edit)
  return doc
})

/** The query part of the durability question the SDK asks for `doc`: its state vector and its delete set. */
export function durableQueryOf(doc: Y.Doc): Uint8Array {
  const message = decodeClientMessage(encodeDurableQuery(0, Y.encodeStateVector(doc), Y.createDeleteSetFromStructStore(doc.store)))
  if (message.type !== 'durable-query') throw new Error(`a durability query decoded as ${message.type}`)
  return message.stateVector
}

/** True when `stored` already holds every struct and every deletion of `other`. */
export function contains(stored: Y.Doc, other: Y.Doc): boolean {
  const merged = new Y.Doc()
  Y.applyUpdate(merged, Y.encodeStateAsUpdate(stored))
  const before = Y.snapshot(merged)
  Y.applyUpdate(merged, Y.encodeStateAsUpdate(other))
  return Y.equalSnapshots(before, Y.snapshot(merged))
}
