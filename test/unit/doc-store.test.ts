import * as Y from 'yjs'
import { afterEach, describe, expect, test } from 'vitest'
import { openStore } from '../helpers/store.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

afterEach(removeTempDirs)

/** Updates from a local doc, one per edit, as a client would send them. */
function edits(count: number, clientID = 1): Uint8Array[] {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  const text = doc.getText('body')
  for (let i = 0; i < count; i++) {
    if (i % 5 === 4) text.delete(0, 1)
    else text.insert(text.length, String.fromCharCode(97 + (i % 26)))
  }
  doc.getMap('meta').set('count', count)
  return updates
}

async function applyAll(docs: ReturnType<typeof openStore>['docs'], name: string, updates: Uint8Array[]) {
  const results = await Promise.all(updates.map((u) => docs.apply(name, u, 'test')))
  expect(results.every((r) => r.ok)).toBe(true)
}

describe('DocStore on LMDB', () => {
  test('listeners hear of a deletion once no read returns the document, loaded or not', async () => {
    const { docs, close } = openStore(tempDir())
    await applyAll(docs, 'loaded', edits(3))
    await applyAll(docs, 'stored', edits(3))
    const handle = docs.open('loaded')
    const seenAtDeletion: Record<string, unknown> = {}
    docs.on({ deleted: (name) => (seenAtDeletion[name] = { update: docs.readUpdate(name), meta: docs.meta(name), digest: docs.digest(name) }) })
    handle.release()
    await docs.delete('loaded')
    await docs.delete('stored')
    const gone = { update: undefined, meta: undefined, digest: undefined }
    expect(seenAtDeletion).toEqual({ loaded: gone, stored: gone })
    await close()
  })

  test('holds: an update the latest summary covers, structs and deletions, even after later changes', async () => {
    const store = openStore(tempDir())
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    doc.getText('body').insert(0, 'hello')
    doc.getText('body').delete(0, 1)
    await applyAll(store.docs, 'a', updates)
    const [insert, deletion] = updates as [Uint8Array, Uint8Array]
    expect(store.docs.holds('a', insert)).toBe(false) // no summary yet: unknown
    store.docs.digest('a')
    expect(store.docs.holds('a', insert)).toBe(true)
    expect(store.docs.holds('a', deletion)).toBe(true)

    const later = new Y.Doc()
    Y.applyUpdate(later, Y.encodeStateAsUpdate(doc))
    const more: Uint8Array[] = []
    later.on('update', (u: Uint8Array) => more.push(u))
    later.getText('body').insert(0, '!')
    later.getText('body').delete(1, 1)
    const [newInsert, newDeletion] = more as [Uint8Array, Uint8Array]
    expect(store.docs.holds('a', newInsert)).toBe(false)
    expect(store.docs.holds('a', newDeletion)).toBe(false)
    await applyAll(store.docs, 'a', more)
    // The summary is from before these; what it covered is still held.
    expect(store.docs.holds('a', insert)).toBe(true)
    expect(store.docs.holds('a', newInsert)).toBe(false)
    await store.close()
  })

  test('applied updates are durable: a store reopened on the same files reads the same document', async () => {
    const dir = tempDir()
    const first = openStore(dir)
    const updates = edits(200)
    await applyAll(first.docs, 'a', updates)
    const before = first.docs.readUpdate('a')!
    await first.close()

    const second = openStore(dir)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, second.docs.readUpdate('a')!)
    const expected = new Y.Doc()
    Y.applyUpdate(expected, before)
    expect(doc.getText('body').toString()).toBe(expected.getText('body').toString())
    expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(expected))
    await second.close()
  })

  test('updates arriving in one event-loop turn share one group commit', async () => {
    const store = openStore(tempDir())
    await applyAll(store.docs, 'a', edits(100))
    const batches = (await store.metrics.commitBatchUpdates.get()).values.find((v) => v.metricName?.endsWith('_count'))
    expect(batches?.value).toBe(1)
    await store.close()
  })

  test('compaction folds the log into the base and keeps the same document after a reload, without the deleted content', async () => {
    const dir = tempDir()
    const store = openStore(dir, { compactAfterUpdates: 50 })
    const handle = store.docs.open('a')
    await applyAll(store.docs, 'a', edits(49))
    for (const u of edits(120, 2)) await store.docs.apply('a', u, 'test')
    // A compaction runs with the group commit after the one that passed the threshold.
    await store.docs.apply('b', edits(1)[0]!, 'test')
    expect((await store.metrics.compactions.get()).values[0]?.value).toBeGreaterThan(0)
    const meta = store.docs.meta('a')!
    expect(meta.logUpdates).toBeLessThan(50)
    expect(meta.baseBytes).toBeGreaterThan(0)
    const before = Y.snapshot(handle.doc)
    const text = handle.doc.getText('body').toString()
    // Server documents keep deleted content in memory (versions show it); a base without versions drops it.
    const inMemoryBytes = Y.encodeStateAsUpdate(handle.doc).byteLength
    handle.release()
    await store.close()

    const reopened = openStore(dir)
    const again = reopened.docs.open('a')
    expect(Y.equalSnapshots(Y.snapshot(again.doc), before)).toBe(true)
    expect(again.doc.getText('body').toString()).toBe(text)
    expect(Y.encodeStateAsUpdate(again.doc).byteLength).toBeLessThan(inMemoryBytes)
    again.release()
    await reopened.close()
  })

  test('an unloaded document is compacted from storage', async () => {
    const dir = tempDir()
    const store = openStore(dir, { compactAfterUpdates: 10 })
    const updates = edits(30)
    for (const u of updates) await store.docs.apply('cold', u, 'test')
    await store.docs.apply('other', edits(1)[0]!, 'test')
    expect(store.docs.meta('cold')!.logUpdates).toBeLessThan(10)
    const expected = new Y.Doc()
    for (const u of updates) Y.applyUpdate(expected, u)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, store.docs.readUpdate('cold')!)
    expect(Y.encodeStateAsUpdate(doc)).toEqual(Y.encodeStateAsUpdate(expected))
    await store.close()
  })

  test('eviction drops an idle document and a reload holds the same document', async () => {
    const store = openStore(tempDir(), { idleCacheBytes: 0, compactAfterUpdates: 40 })
    const handle = store.docs.open('a')
    for (const u of edits(100)) await store.docs.apply('a', u, 'test')
    const before = Y.snapshot(handle.doc)
    const json = handle.doc.getText('body').toString()
    handle.release()
    expect(store.docs.loadedCount).toBe(0)
    expect((await store.metrics.evictions.get()).values[0]?.value).toBe(1)
    const again = store.docs.open('a')
    expect(Y.equalSnapshots(Y.snapshot(again.doc), before)).toBe(true)
    expect(again.doc.getText('body').toString()).toBe(json)
    again.release()
    await store.close()
  })

  test('a document without handles is evicted once it has been idle for idleEvictMs', async () => {
    const store = openStore(tempDir(), { idleEvictMs: 10 })
    const handle = store.docs.open('a')
    await applyAll(store.docs, 'a', edits(5))
    handle.release()
    expect(store.docs.loadedCount).toBe(1)
    await waitFor('the idle sweep', () => store.docs.loadedCount === 0)
    await store.close()
  })

  test('an update Yjs cannot decode is refused and leaves storage unchanged', async () => {
    const store = openStore(tempDir())
    await applyAll(store.docs, 'a', edits(10))
    const before = store.docs.readUpdate('a')
    const metaBefore = store.docs.meta('a')
    const result = await store.docs.apply('a', Uint8Array.of(1, 2, 3, 200, 0, 9), 'test')
    expect(result).toMatchObject({ ok: false, reason: 'invalid_update' })
    expect(store.docs.readUpdate('a')).toEqual(before)
    expect(store.docs.meta('a')).toEqual(metaBefore)
    expect(store.docs.readUpdate('never-written')).toBeUndefined()
    await store.close()
  })

  test('an update that changes nothing is not stored', async () => {
    const store = openStore(tempDir())
    expect(await store.docs.apply('a', Y.encodeStateAsUpdate(new Y.Doc()), 'test')).toEqual({ ok: true })
    expect(store.docs.meta('a')).toBeUndefined()
    await store.close()
  })

  test('readUpdate with a state vector returns only what it lacks', async () => {
    const store = openStore(tempDir())
    const updates = edits(20)
    await applyAll(store.docs, 'a', updates)
    const client = new Y.Doc()
    for (const u of updates.slice(0, 10)) Y.applyUpdate(client, u)
    const diff = store.docs.readUpdate('a', Y.encodeStateVector(client))!
    expect(diff.byteLength).toBeLessThan(store.docs.readUpdate('a')!.byteLength)
    Y.applyUpdate(client, diff)
    const full = new Y.Doc()
    for (const u of updates) Y.applyUpdate(full, u)
    expect(client.getText('body').toString()).toBe(full.getText('body').toString())
    await store.close()
  })

  test('the longest allowed document name fits the LMDB keys', async () => {
    const store = openStore(tempDir())
    const name = '€'.repeat(170) + 'ab'
    expect(Buffer.byteLength(name)).toBe(512)
    await applyAll(store.docs, name, edits(3))
    expect(store.docs.scan('€', undefined, () => true, { limit: 1, scanLimit: 1 }).items[0]?.name).toBe(name)
    expect(store.docs.readUpdate(name)).toBeDefined()
    await store.close()
  })

  test('scan pages through names in order, filtered by prefix', async () => {
    const store = openStore(tempDir())
    const names = ['a/1', 'a/2', 'a/3', 'b/1', 'c']
    for (const name of names) await store.docs.apply(name, edits(1)[0]!, 'test')
    const page = (prefix: string, after: string | undefined, limit: number) =>
      store.docs.scan(prefix, after, () => true, { limit, scanLimit: 100 })
    expect(page('', undefined, 10)).toMatchObject({ items: names.map((name) => ({ name })), resumeAfter: null })
    expect(page('a/', undefined, 2)).toMatchObject({ items: [{ name: 'a/1' }, { name: 'a/2' }], resumeAfter: 'a/2' })
    expect(page('a/', 'a/2', 2)).toMatchObject({ items: [{ name: 'a/3' }], resumeAfter: null })
    expect(page('b', undefined, 10)).toMatchObject({ items: [{ name: 'b/1' }], resumeAfter: null })
    await store.close()
  })

  test('scan keeps only what `include` keeps, and stops after scanLimit documents looked at', async () => {
    const store = openStore(tempDir())
    const names = ['p/1', 's/1', 's/2', 's/3', 'v/1']
    for (const name of names) await store.docs.apply(name, edits(1)[0]!, 'test')
    const visible = (name: string) => !name.startsWith('s/')
    expect(store.docs.scan('', undefined, visible, { limit: 1, scanLimit: 100 })).toMatchObject({ items: [{ name: 'p/1' }], resumeAfter: 'p/1' })
    // The page ends on a document the caller may not see; where it ends is the caller's cursor, sealed.
    expect(store.docs.scan('', 'p/1', visible, { limit: 5, scanLimit: 2 })).toMatchObject({ items: [], resumeAfter: 's/2' })
    expect(store.docs.scan('', 's/2', visible, { limit: 5, scanLimit: 2 })).toMatchObject({ items: [{ name: 'v/1' }], resumeAfter: null })
    await store.close()
  })

  test("the metadata given at construction decides: the gate before an update is queued, tombstones again at its commit", async () => {
    const dir = tempDir()
    const tombstones = new Set<string>()
    const store = openStore(dir, {}, {
      gate: (name) => (name === 'closed' ? { ok: false, reason: 'read_only', message: 'closed for writes' } : { ok: true }),
      isDeleted: (name) => tombstones.has(name),
    })
    const update = edits(1)[0]!
    expect(await store.docs.apply('closed', update, 'test')).toMatchObject({ ok: false, reason: 'read_only' })
    const queued = store.docs.apply('gone', update, 'test')
    // The tombstone commits after the gate let the update in, before its group commit.
    tombstones.add('gone')
    expect(await queued).toMatchObject({ ok: false, reason: 'deleted' })
    expect(await store.docs.apply('kept', update, 'test')).toEqual({ ok: true })
    await store.close()
    const reopened = openStore(dir)
    expect(reopened.docs.meta('gone')).toBeUndefined()
    expect(reopened.docs.meta('closed')).toBeUndefined()
    expect(reopened.docs.meta('kept')).toBeDefined()
    await reopened.close()
  })

  test('close waits for accepted updates to be durable', async () => {
    const dir = tempDir()
    const store = openStore(dir)
    const updates = edits(50)
    const pending = updates.map((u) => store.docs.apply('a', u, 'test'))
    await store.close()
    expect((await Promise.all(pending)).every((r) => r.ok)).toBe(true)
    expect(await store.docs.apply('a', edits(1, 9)[0]!, 'test')).toMatchObject({ ok: false, reason: 'shutting_down' })
    const reopened = openStore(dir)
    expect(reopened.docs.meta('a')!.logUpdates).toBe(updates.length)
    await reopened.close()
  })
})
