import { afterEach, expect, test } from 'vitest'
import { NodeStorage } from '../../src/storage/lmdb-env.js'
import type { Entry, Snapshot } from '../../src/raft/types.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterEach(removeTempDirs)

const entry = (index: number, term: number): Entry => ({ index, term, data: { n: index } })
const noReady = { hardState: null, entries: [], snapshot: null, snapshotReceived: false }

test('entries and hard state survive reopening the LMDB files', async () => {
  const dir = tempDir()
  const storage = new NodeStorage({ path: dir })
  expect(storage.raft.isEmpty()).toBe(true)
  storage.raft.persist({ ...noReady, hardState: { term: 2, vote: 'a', commit: 2 }, entries: [entry(1, 1), entry(2, 2)] })
  await storage.close()
  const reopened = new NodeStorage({ path: dir })
  expect(reopened.raft.load()).toEqual({
    hardState: { term: 2, vote: 'a', commit: 2 },
    snapshot: null,
    entries: [entry(1, 1), entry(2, 2)],
  })
  await reopened.close()
})

test('new entries overwrite the stored ones from their first index on', async () => {
  const storage = new NodeStorage({ path: tempDir() })
  storage.raft.persist({ ...noReady, entries: [entry(1, 1), entry(2, 1), entry(3, 1)] })
  storage.raft.persist({ ...noReady, entries: [entry(2, 2)] })
  expect(storage.raft.load().entries).toEqual([entry(1, 1), entry(2, 2)])
  await storage.close()
})

test('an own snapshot drops the entries it covers; a received one replaces the whole log', async () => {
  const storage = new NodeStorage({ path: tempDir() })
  const config = { voters: ['a'], replicas: [] }
  storage.raft.persist({ ...noReady, entries: [1, 2, 3, 4].map((i) => entry(i, 1)) })
  const own: Snapshot = { index: 2, term: 1, config, data: new Uint8Array([7]) }
  storage.raft.saveSnapshot(own)
  expect(storage.raft.load()).toMatchObject({ snapshot: { index: 2 }, entries: [entry(3, 1), entry(4, 1)] })
  expect(Buffer.from(storage.raft.load().snapshot!.data as Uint8Array)).toEqual(Buffer.from([7]))
  storage.raft.persist({ ...noReady, snapshot: { index: 9, term: 3, config, data: new Uint8Array() }, snapshotReceived: true })
  expect(storage.raft.load()).toMatchObject({ snapshot: { index: 9, term: 3 }, entries: [] })
  await storage.close()
})

test('a hard state that only moves the commit index is stored as given', async () => {
  const dir = tempDir()
  const storage = new NodeStorage({ path: dir })
  storage.raft.persist({ ...noReady, hardState: { term: 3, vote: 'b', commit: 1 }, entries: [entry(1, 3), entry(2, 3)] })
  storage.raft.persist({ ...noReady, hardState: { term: 3, vote: 'b', commit: 2 } })
  expect(storage.raft.load().hardState).toEqual({ term: 3, vote: 'b', commit: 2 })
  await storage.close()
  const reopened = new NodeStorage({ path: dir })
  expect(reopened.raft.load().hardState).toEqual({ term: 3, vote: 'b', commit: 2 })
  await reopened.close()
})
