import { open } from 'lmdb'
import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { encodeLogRecord } from '../../src/storage/log-record.js'
import { openStore } from '../helpers/store.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterEach(() => removeTempDirs())

function textUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('body').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

const readText = (update: Uint8Array | undefined) => {
  const doc = new Y.Doc()
  if (update) Y.applyUpdate(doc, update)
  return doc.getText('body').toString()
}

// msgpackr's inline record definition: the value carries its own field names.
const inlineRecordDefinition = (bytes: Uint8Array) => bytes[0] === 0xd4 && bytes[1] === 0x72

test('metas written before field names were shared still read, and later writes share them', async () => {
  const dir = tempDir()
  // A data directory as written before: every meta value with its own record definition.
  const old = open({ path: dir })
  const oldMetas = old.openDB({ name: 'doc-meta', encoding: 'msgpack' })
  const oldLogs = old.openDB({ name: 'doc-log', encoding: 'binary' })
  const update = textUpdate('written long ago')
  const record = encodeLogRecord([update])
  await old.transaction(() => {
    oldLogs.putSync(['old', 1], record)
    oldMetas.putSync('old', { nextSeq: 2, logUpdates: 1, logBytes: record.byteLength, baseBytes: 0, updatedAtMs: 1 })
  })
  expect(inlineRecordDefinition(oldMetas.getBinary('old')!)).toBe(true)
  await old.close()

  const store = openStore(dir)
  expect(readText(store.docs.readUpdate('old'))).toBe('written long ago')
  expect((await store.docs.apply('new', textUpdate('written now'), 'test')).ok).toBe(true)
  expect((await store.docs.apply('old', textUpdate('and more'), 'test')).ok).toBe(true)
  await store.close()

  const reopened = openStore(dir)
  expect(reopened.docs.scan('', undefined, () => true, { limit: 10, scanLimit: 10 }).items.map((d) => d.name)).toEqual(['new', 'old'])
  expect(readText(reopened.docs.readUpdate('new'))).toBe('written now')
  expect(readText(reopened.docs.readUpdate('old'))).toContain('written long ago')
  expect(reopened.docs.meta('old')).toMatchObject({ nextSeq: 3, logUpdates: 2 })
  await reopened.close()

  const raw = open({ path: dir })
  const rawMetas = raw.openDB({ name: 'doc-meta', encoding: 'binary' })
  expect(inlineRecordDefinition(rawMetas.getBinary('new')!)).toBe(false)
  expect(inlineRecordDefinition(rawMetas.getBinary('old')!)).toBe(false)
  await raw.close()
})
