import { describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import { VersionListCache } from '../../src/history/version-list-cache.js'
import { encodeVersionSnapshot, historyUpdate, newVersionId, type VersionRecord } from '../../src/history/version-records.js'

const record = (timeMs: number): VersionRecord => ({
  id: newVersionId('named', new Uint8Array()),
  label: `at ${timeMs}`,
  timeMs,
  by: null,
  kind: 'named',
  editors: [],
  snapshot: encodeVersionSnapshot(new Y.Doc()),
})

/** A history as a node reads it back: built afresh from what is stored. */
const rebuilt = (stored: Y.Doc) => {
  const history = new Y.Doc({ gc: false })
  Y.applyUpdate(history, Y.encodeStateAsUpdate(stored))
  return history
}

describe('the versions of a history, read once per state', () => {
  test('a history read again unchanged is not validated again; a version added or retired is seen at once', () => {
    const stored = new Y.Doc({ gc: false })
    const [a, b] = [record(1), record(2)]
    historyUpdate(stored, a, [])
    const cache = new VersionListCache()
    const first = cache.versions('d', rebuilt(stored))
    expect(first.map((v) => v.id)).toEqual([a.id])
    expect(cache.versions('d', rebuilt(stored))).toBe(first)

    historyUpdate(stored, b, [])
    expect(cache.versions('d', rebuilt(stored)).map((v) => v.id)).toEqual([b.id, a.id])
    historyUpdate(stored, null, [a.id])
    expect(cache.versions('d', rebuilt(stored)).map((v) => v.id)).toEqual([b.id])
    expect(cache.versions('other', new Y.Doc())).toEqual([])
  })
})
