import fc from 'fast-check'
import * as Y from 'yjs'
import { describe, expect, test } from 'vitest'
import { historyUpdate, newVersionId, readVersions, type VersionRecord } from '../../src/history/version-records.js'
import { versionsToRetire } from '../../src/history/retention.js'

const record = (id: string, timeMs: number): VersionRecord => ({ id, label: id, timeMs, by: null, kind: 'named', snapshot: new Uint8Array([0, 0]) })
const dayMs = 86_400_000

describe('version records', () => {
  test('a history written by historyUpdate reads back, newest first, without what it retired', () => {
    const a = record(newVersionId('named', new Uint8Array()), 1)
    const b = record(newVersionId('named', new Uint8Array()), 2)
    const history = new Y.Doc()
    const replica = new Y.Doc()
    Y.applyUpdate(replica, historyUpdate(history, a, []))
    Y.applyUpdate(replica, historyUpdate(history, b, []))
    expect(readVersions(replica).map((v) => v.id)).toEqual([b.id, a.id])
    Y.applyUpdate(replica, historyUpdate(history, null, [a.id]))
    expect(readVersions(replica)).toEqual([b])
  })

  test('automatic ids come from the state, named ones are fresh', () => {
    expect(newVersionId('auto', new Uint8Array([1]))).toBe(newVersionId('auto', new Uint8Array([1])))
    expect(newVersionId('named', new Uint8Array([1]))).not.toBe(newVersionId('named', new Uint8Array([1])))
  })

  test('any content a peer puts in a history is read without throwing, keeping only well-formed versions', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(fc.string(), fc.constant('v_0123456789abcdef0123')), fc.jsonValue()), (entries) => {
        const history = new Y.Doc()
        const versions = history.getMap('versions')
        for (const [key, value] of Object.entries(entries)) versions.set(key, value)
        for (const version of readVersions(history)) expect(version.snapshot).toBeInstanceOf(Uint8Array)
      }),
    )
  })

  test('retention keeps the newest by count and drops what is past its age', () => {
    const now = 100 * dayMs
    const versions = [record('c', now - dayMs), record('b', now - 3 * dayMs), record('a', now - 10 * dayMs)]
    expect(versionsToRetire(versions, { keepVersions: 2, keepDays: 30 }, now)).toEqual(['a'])
    expect(versionsToRetire(versions, { keepVersions: 10, keepDays: 2 }, now)).toEqual(['b', 'a'])
    expect(versionsToRetire(versions, { keepVersions: 10, keepDays: 30 }, now)).toEqual([])
  })
})
