import * as Y from 'yjs'
import { afterEach, describe, expect, test } from 'vitest'
import { open } from 'lmdb'
import { docDigest } from '../../src/docs/doc-digest.js'
import { itemHash } from '../../src/replication/item-hash.js'
import { openStore } from '../helpers/store.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterEach(removeTempDirs)

function docWith(clientID: number, edit: (text: Y.Text) => void): Y.Doc {
  const doc = new Y.Doc()
  doc.clientID = clientID
  edit(doc.getText('body'))
  return doc
}

function copyOf(doc: Y.Doc, ...more: Uint8Array[]): Y.Doc {
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
  for (const update of more) Y.applyUpdate(copy, update)
  return copy
}

const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('hex')

describe('document digest', () => {
  test('replicas with the same content have the same digest, whatever order the updates came in', () => {
    const a = docWith(1, (t) => t.insert(0, 'hello world'))
    const b = docWith(2, (t) => t.insert(0, 'hi '))
    const fromA = Y.encodeStateAsUpdate(a)
    const fromB = Y.encodeStateAsUpdate(b)
    const one = new Y.Doc()
    Y.applyUpdate(one, fromA)
    Y.applyUpdate(one, fromB)
    const other = new Y.Doc()
    Y.applyUpdate(other, fromB)
    Y.applyUpdate(other, fromA)
    expect(hex(docDigest(one).digest)).toBe(hex(docDigest(other).digest))
  })

  test('structs split differently still give the same digest', () => {
    const source = docWith(1, (t) => t.insert(0, 'abcdef'))
    const whole = copyOf(source)
    const split = copyOf(source)
    // Inserting in the middle and deleting it again splits the original item on one replica only.
    const splitter = new Y.Doc()
    splitter.clientID = 9
    Y.applyUpdate(splitter, Y.encodeStateAsUpdate(source))
    splitter.getText('body').insert(3, 'X')
    splitter.getText('body').delete(3, 1)
    const change = Y.encodeStateAsUpdate(splitter, Y.encodeStateVector(source))
    Y.applyUpdate(split, change)
    Y.applyUpdate(whole, change)
    expect(split.getText('body').toString()).toBe('abcdef')
    expect(hex(docDigest(split).digest)).toBe(hex(docDigest(whole).digest))
  })

  test('a divergence made only of a deletion changes the digest, though the state vector does not move', () => {
    const source = docWith(1, (t) => t.insert(0, 'abcdef'))
    const kept = copyOf(source)
    const deleter = copyOf(source)
    deleter.getText('body').delete(0, 2)
    expect(Y.encodeStateVector(deleter)).toEqual(Y.encodeStateVector(kept))
    expect(hex(docDigest(deleter).digest)).not.toBe(hex(docDigest(kept).digest))
  })
})

describe('DocStore digests', () => {
  test('a digest is kept in storage until the document changes, and equals the loaded document’s', async () => {
    const dir = tempDir()
    const store = openStore(dir)
    const doc = docWith(1, (t) => t.insert(0, 'hello'))
    expect((await store.docs.apply('d', Y.encodeStateAsUpdate(doc), 'test')).ok).toBe(true)
    expect(store.docs.digest('never-written')).toBeUndefined()
    const first = store.docs.digest('d')
    expect(hex(first)).toBe(hex(docDigest(doc).digest))
    expect([...store.docs.storedDigests()]).toEqual([{ name: 'd', kept: undefined }])
    await store.close()

    const reopened = openStore(dir)
    const stored = [...reopened.docs.storedDigests()]
    expect(stored.map(({ name, kept }) => [name, hex(kept?.digest), hex(kept?.itemHash)])).toEqual([['d', hex(first), hex(itemHash('d', first!))]])
    const before = Y.encodeStateVector(doc)
    doc.getText('body').delete(0, 1)
    const deletion = Y.encodeStateAsUpdate(doc, before)
    expect((await reopened.docs.apply('d', deletion, 'test')).ok).toBe(true)
    expect([...reopened.docs.storedDigests()]).toEqual([{ name: 'd', kept: undefined }])
    expect(hex(reopened.docs.digest('d'))).toBe(hex(docDigest(doc).digest))
    const handle = reopened.docs.open('d')
    expect(hex(reopened.docs.digest('d'))).toBe(hex(docDigest(doc).digest))
    handle.release()
    await reopened.close()
  })

  test('a digest kept by an earlier version (digest and snapshot together in the meta) is computed again, and kept anew', async () => {
    const dir = tempDir()
    const store = openStore(dir)
    const doc = docWith(1, (t) => t.insert(0, 'hello'))
    expect((await store.docs.apply('d', Y.encodeStateAsUpdate(doc), 'test')).ok).toBe(true)
    await store.close()
    // The meta as the earlier layout wrote it: a summary whose digest is wrong, to tell whether it is used.
    const env = open({ path: dir, maxDbs: 64 })
    const metas = env.openDB<Record<string, unknown>, string>({ name: 'doc-meta', encoding: 'msgpack', sharedStructuresKey: Symbol.for('structures') })
    const meta = metas.get('d')!
    const { digest: _, ...earlier } = meta
    await metas.put('d', { ...earlier, summary: { seq: meta.nextSeq, digest: new Uint8Array(16), snapshot: Y.encodeSnapshot(Y.snapshot(doc)) } })
    await env.close()

    const reopened = openStore(dir)
    expect([...reopened.docs.storedDigests()]).toEqual([{ name: 'd', kept: undefined }])
    expect(hex(reopened.docs.digest('d'))).toBe(hex(docDigest(doc).digest))
    await reopened.close()
    const again = openStore(dir)
    expect([...again.docs.storedDigests()].map(({ kept }) => hex(kept?.digest))).toEqual([hex(docDigest(doc).digest)])
    expect(again.storage.docs.getMeta('d')).not.toHaveProperty('summary')
    await again.close()
  })
})
