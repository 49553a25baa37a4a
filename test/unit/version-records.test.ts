import fc from 'fast-check'
import * as Y from 'yjs'
import { describe, expect, test } from 'vitest'
import { decodeVersionSnapshot, encodeVersionSnapshot, historyUpdate, newVersionId, readVersions, type VersionRecord } from '../../src/history/version-records.js'
import { versionsToRetire } from '../../src/history/retention.js'

const record = (id: string, timeMs: number): VersionRecord => ({ id, label: id, timeMs, by: null, kind: 'named', editors: [], snapshot: encodeVersionSnapshot(new Y.Doc()) })
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

  test('any content a peer puts in a history is read without throwing, keeping exactly the well-formed versions', () => {
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'some text')
    const snapshot = fc.oneof(fc.constant(encodeVersionSnapshot(doc)), fc.constant(Y.encodeSnapshot(Y.snapshot(doc))), fc.uint8Array({ maxLength: 40 }))
    const stored = fc.record({ label: fc.string(), timeMs: fc.nat(), by: fc.constant(null), kind: fc.constant('named'), snapshot }).map((fields) => ({ ...fields }))
    const key = fc.oneof(fc.string(), fc.constant('v_0123456789abcdef0123'), fc.constant('v_ffffffffffffffffffff'))
    fc.assert(
      fc.property(fc.dictionary(key, fc.oneof(fc.jsonValue(), stored)), (entries) => {
        const history = new Y.Doc()
        const versions = history.getMap('versions')
        for (const [id, value] of Object.entries(entries)) versions.set(id, value)
        const read = readVersions(history)
        for (const version of read) expect(decodeVersionSnapshot(version).sv).toBeInstanceOf(Map)
        const wellFormed = Object.entries(entries).filter(([id, value]) => {
          const bytes = (value as { snapshot?: unknown } | null)?.snapshot
          if (!/^v_[0-9a-f]{20}$/.test(id) || !(bytes instanceof Uint8Array)) return false
          try {
            Y.decodeSnapshotV2(bytes)
            return true
          } catch {
            return false
          }
        })
        expect(read.map((version) => version.id).sort()).toEqual(wellFormed.map(([id]) => id).sort())
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
