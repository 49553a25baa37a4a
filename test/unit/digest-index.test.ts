import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { DigestIndex } from '../../src/replication/digest-index.js'
import { openStore, silentLog } from '../helpers/store.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { sleep, waitFor } from '../helpers/wait.js'

afterEach(removeTempDirs)

function textUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('body').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

test('a digest index follows commits while open, and after close ignores the writes a closing store still makes', async () => {
  const store = openStore(tempDir())
  const index = new DigestIndex(store.docs, silentLog)
  expect((await store.docs.apply('a', textUpdate('one'), 'test')).ok).toBe(true)
  await waitFor('the digest of a', () => index.items.size === 1 && index.staleCount === 0)
  // Compared as bytes: the store answers from its kept summary (a Buffer, as LMDB reads it) once that is written.
  expect(Buffer.from(index.items.get('a')!)).toEqual(Buffer.from(store.docs.digest('a')!))

  // As a node shuts down: replication closes first, then the store writes what is still pending.
  index.close()
  const pending = store.docs.apply('b', textUpdate('two'), 'test')
  await store.close()
  expect((await pending).ok).toBe(true)
  expect(index.staleCount).toBe(0)
  // A refresh started now would read a closed database; wait past the quiet period to see that none starts.
  await sleep(60)
  expect(index.items.size).toBe(1)
})

test('whenFresh runs at once when no digest is stale, and otherwise once the stale ones are computed', async () => {
  const store = openStore(tempDir())
  const index = new DigestIndex(store.docs, silentLog)
  let ran = false
  index.whenFresh(() => (ran = true))
  expect(ran).toBe(true)

  await Promise.all(['a', 'b', 'c'].map((name) => store.docs.apply(name, textUpdate(name), 'test')))
  expect(index.staleCount).toBe(3)
  const seen: { stale: number; digests: number }[] = []
  index.whenFresh(() => seen.push({ stale: index.staleCount, digests: index.items.size }))
  await waitFor('the callback', () => seen.length === 1)
  expect(seen).toEqual([{ stale: 0, digests: 3 }])
  index.close()
  await store.close()
})
