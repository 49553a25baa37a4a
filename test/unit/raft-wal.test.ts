import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { open } from 'lmdb'
import { afterEach, expect, test } from 'vitest'
import type { Entry, HardState, Snapshot } from '../../src/raft/types.js'
import { NodeStorage } from '../../src/storage/lmdb-env.js'
import { RaftWal } from '../../src/storage/raft-wal/raft-wal.js'
import { readSegment } from '../../src/storage/raft-wal/segment-file.js'
import { emptyReplay, replayBatch, splitBatch, WalCorruptError } from '../../src/storage/raft-wal/wal-batch.js'
import { encodeRecord } from '../../src/storage/raft-wal/wal-format.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterEach(removeTempDirs)

const small = { segmentBytes: 600, preallocateBytes: 256 }
const entry = (index: number, term: number): Entry => ({ index, term, data: { put: `key-${index}`, pad: 'x'.repeat(20) } })
const config = { voters: ['a'], replicas: [] }
const snapshotAt = (index: number, term: number): Snapshot => ({ index, term, config, data: new Uint8Array([index % 256]) })
const noReady = { hardState: null, entries: [], snapshot: null, snapshotReceived: false }
const walDir = (dir: string) => join(dir, 'raft-wal')
const segments = (dir: string) => readdirSync(walDir(dir)).filter((name) => name.endsWith('.wal')).sort()

function openStorage(dir: string): NodeStorage {
  return new NodeStorage({ path: dir, raftWal: small })
}

/** What RaftStorage must give back: the model of the log, kept in memory. */
interface Model {
  snapshot: Snapshot | null
  entries: Entry[]
  hardState: HardState
}

type Op =
  | { kind: 'append'; back: number; count: number; term: number }
  | { kind: 'hard-state'; term: number }
  | { kind: 'own-snapshot'; back: number }
  | { kind: 'leader-snapshot'; ahead: number }
  | { kind: 'reopen' }

const ops: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), back: fc.nat({ max: 3 }), count: fc.integer({ min: 1, max: 6 }), term: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('hard-state' as const), term: fc.integer({ min: 1, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('own-snapshot' as const), back: fc.nat({ max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leader-snapshot' as const), ahead: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
)

const lastIndex = (model: Model) => model.entries.at(-1)?.index ?? model.snapshot?.index ?? 0

test('the log, hard state and snapshot read back as written, across reopens, segment roll-overs and removals', () => {
  fc.assert(
    fc.property(fc.array(ops, { minLength: 1, maxLength: 40 }), (sequence) => {
      const dir = tempDir()
      let storage = openStorage(dir)
      const model: Model = { snapshot: null, entries: [], hardState: { term: 0, vote: null, commit: 0 } }
      for (const op of sequence) {
        const base = model.snapshot?.index ?? 0
        if (op.kind === 'append') {
          const first = Math.max(base + 1, lastIndex(model) + 1 - op.back)
          const entries = Array.from({ length: op.count }, (_, i) => entry(first + i, op.term))
          storage.raft.persist({ ...noReady, entries })
          model.entries = model.entries.filter((e) => e.index < first).concat(entries)
        } else if (op.kind === 'hard-state') {
          model.hardState = { term: op.term, vote: 'a', commit: Math.min(lastIndex(model), base + 2) }
          storage.raft.persist({ ...noReady, hardState: model.hardState })
        } else if (op.kind === 'own-snapshot') {
          const at = lastIndex(model) - op.back
          const covered = model.entries.find((e) => e.index === at)
          if (!covered) continue
          model.snapshot = snapshotAt(at, covered.term)
          model.entries = model.entries.filter((e) => e.index > at)
          storage.raft.saveSnapshot(model.snapshot)
        } else if (op.kind === 'leader-snapshot') {
          model.snapshot = snapshotAt(lastIndex(model) + op.ahead, 9)
          model.entries = []
          storage.raft.persist({ ...noReady, snapshot: model.snapshot, snapshotReceived: true })
        } else {
          storage.raft.close()
          storage = openStorage(dir)
        }
        const loaded = storage.raft.load()
        expect(loaded.entries).toEqual(model.entries)
        expect(loaded.snapshot?.index ?? null).toBe(model.snapshot?.index ?? null)
        const last = lastIndex(model)
        expect(loaded.hardState).toEqual({ ...model.hardState, commit: Math.min(model.hardState.commit, last) })
      }
      storage.raft.close()
    }),
    { numRuns: 40 },
  )
})

test('segments roll over at their size, and a snapshot removes the ones it covers', async () => {
  const dir = tempDir()
  const storage = openStorage(dir)
  for (let i = 1; i <= 60; i++) storage.raft.persist({ ...noReady, entries: [entry(i, 1)], hardState: { term: 1, vote: 'a', commit: i } })
  const before = segments(dir)
  expect(before.length).toBeGreaterThan(3)
  storage.raft.saveSnapshot(snapshotAt(50, 1))
  const after = segments(dir)
  expect(after.length).toBeLessThan(before.length)
  expect(after.at(-1)).toBe(before.at(-1))
  await storage.close()
  const reopened = openStorage(dir)
  expect(reopened.raft.load()).toMatchObject({ snapshot: { index: 50 }, entries: [51, 52, 53, 54, 55, 56, 57, 58, 59, 60].map((i) => entry(i, 1)) })
  expect(reopened.raft.load().hardState).toEqual({ term: 1, vote: 'a', commit: 60 })
  await reopened.close()
})

test('space is written ahead in chunks: most appends leave the segment size alone', () => {
  const dir = tempDir()
  const wal = RaftWal.open(dir, { segmentBytes: 1 << 20, preallocateBytes: 64 * 1024 })
  const [segment] = readdirSync(dir)
  const sizes = new Set<number>()
  for (let i = 1; i <= 100; i++) {
    wal.append({ entries: [entry(i, 1)] })
    sizes.add(statSync(join(dir, segment!)).size)
  }
  expect([...sizes]).toEqual([16 + 64 * 1024])
  wal.close()
})

test('a batch too large for one record is written as several, and reads back whole', () => {
  const dir = tempDir()
  const options = { segmentBytes: 1 << 20, preallocateBytes: 64 * 1024, maxRecordBytes: 1024 }
  let wal = RaftWal.open(dir, options)
  const entries = Array.from({ length: 40 }, (_, i) => entry(i + 1, 2))
  const hardState = { term: 2, vote: 'a', commit: 40 }
  wal.append({ snapshot: { index: 0, term: 0, reset: false }, entries, hardState })
  wal.close()
  const [segment] = readdirSync(dir)
  const { batches } = readSegment(join(dir, segment!), 1)
  // The segment's first record is its header batch; the 40 entries took several more, each within the limit.
  expect(batches.length).toBeGreaterThan(3)
  expect(batches.flatMap((batch) => batch.entries ?? [])).toEqual(entries)
  wal = RaftWal.open(dir, options)
  expect(wal.replay()).toMatchObject({ entries, hardState })
  wal.close()
  // One entry cannot be split: refused as before.
  wal = RaftWal.open(dir, options)
  expect(() => wal.append({ entries: [{ index: 41, term: 2, data: 'x'.repeat(2048) }] })).toThrow(/passes the limit of 1024/)
  wal.close()
})

test('splitting a batch: the two parts leave the log as the whole does; the first alone leaves a prefix with term and vote', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 30 }), fc.integer({ min: 1, max: 5 }), fc.boolean(), (count, term, withMark) => {
      const entries = Array.from({ length: count }, (_, i) => entry(i + 1, term))
      const batch = { ...(withMark && { snapshot: { index: 0, term: 0, reset: true } }), entries, hardState: { term, vote: 'b', commit: count } }
      const parts = splitBatch(batch)!
      const whole = emptyReplay()
      replayBatch(whole, batch)
      const split = emptyReplay()
      for (const part of parts) replayBatch(split, part)
      expect(split).toEqual(whole)
      const firstOnly = emptyReplay()
      replayBatch(firstOnly, parts[0])
      expect(firstOnly.hardState).toEqual(batch.hardState)
      expect(entries.slice(0, firstOnly.entries.length)).toEqual(firstOnly.entries)
      expect(firstOnly.entries.length).toBeGreaterThan(0)
      expect(firstOnly.entries.length).toBeLessThan(count)
    }),
  )
  expect(splitBatch({ entries: [entry(1, 1)], hardState: { term: 1, vote: null, commit: 1 } })).toBeNull()
})

test('a torn record at the end is cut off on open and reported; zeros at the end are cut silently', async () => {
  const dir = tempDir()
  const storage = openStorage(dir)
  storage.raft.persist({ ...noReady, entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 'a', commit: 1 } })
  await storage.close()
  const last = join(walDir(dir), segments(dir).at(-1)!)
  // Opening cuts the zeros written ahead: what is left is the records.
  await openStorage(dir).close()
  const written = readFileSync(last).length

  appendFileSync(last, Buffer.alloc(300))
  let reopened = openStorage(dir)
  expect(reopened.raft.recoveredTail).toBeNull()
  expect(reopened.raft.load().entries).toEqual([entry(1, 1), entry(2, 1)])
  await reopened.close()
  expect(readFileSync(last).length).toBe(written)

  // Half a record, as a crash in the middle of a write leaves it.
  const torn = encodeRecord(new Uint8Array(100).fill(7), 0).bytes.subarray(0, 60)
  appendFileSync(last, torn)
  reopened = openStorage(dir)
  expect(reopened.raft.recoveredTail).toEqual({ segment: last, keptBytes: written, droppedBytes: 60 })
  expect(reopened.raft.load().entries).toEqual([entry(1, 1), entry(2, 1)])
  reopened.raft.persist({ ...noReady, entries: [entry(3, 1)] })
  await reopened.close()
  reopened = openStorage(dir)
  expect(reopened.raft.recoveredTail).toBeNull()
  expect(reopened.raft.load().entries).toEqual([entry(1, 1), entry(2, 1), entry(3, 1)])
  await reopened.close()
})

test('damage inside the last segment, with records written after it, is not taken for a torn tail', async () => {
  const dir = tempDir()
  const storage = openStorage(dir)
  for (let i = 1; i <= 3; i++) storage.raft.persist({ ...noReady, entries: [entry(i, 1)] })
  await storage.close()
  const last = join(walDir(dir), segments(dir).at(-1)!)
  const bytes = readFileSync(last)
  bytes[40]! ^= 0xff
  writeFileSync(last, bytes)
  expect(() => openStorage(dir)).toThrow(/is damaged at offset \d+, and records written after it follow/)
})

test('damage before the last segment stops the node with an error that says what to do', async () => {
  const dir = tempDir()
  const storage = openStorage(dir)
  for (let i = 1; i <= 30; i++) storage.raft.persist({ ...noReady, entries: [entry(i, 1)] })
  await storage.close()
  const first = join(walDir(dir), segments(dir)[0]!)
  const bytes = readFileSync(first)
  bytes[40]! ^= 0xff
  writeFileSync(first, bytes)
  expect(() => openStorage(dir)).toThrow(WalCorruptError)
  expect(() => openStorage(dir)).toThrow(/is damaged at offset .*empty its data directory and join it again/)
})

test('a crash between the snapshot in LMDB and its mark in the WAL: an own snapshot keeps the entries after it', async () => {
  const dir = tempDir()
  const storage = openStorage(dir)
  storage.raft.persist({ ...noReady, entries: [1, 2, 3, 4, 5].map((i) => entry(i, 1)), hardState: { term: 1, vote: 'a', commit: 5 } })
  await storage.close()
  await putSnapshotBehindTheWal(dir, snapshotAt(3, 1))
  const reopened = openStorage(dir)
  expect(reopened.raft.load()).toMatchObject({ snapshot: { index: 3 }, entries: [entry(4, 1), entry(5, 1)], hardState: { commit: 5 } })
  await reopened.close()
})

test('a crash between a leader snapshot in LMDB and its mark in the WAL: the snapshot replaces the log, and the WAL is repaired', async () => {
  const dir = tempDir()
  const storage = openStorage(dir)
  storage.raft.persist({ ...noReady, entries: [1, 2, 3].map((i) => entry(i, 1)), hardState: { term: 1, vote: 'a', commit: 3 } })
  await storage.close()
  await putSnapshotBehindTheWal(dir, snapshotAt(8, 2))
  let reopened = openStorage(dir)
  expect(reopened.raft.load()).toMatchObject({ snapshot: { index: 8 }, entries: [] })
  reopened.raft.persist({ ...noReady, entries: [entry(9, 2)] })
  await reopened.close()
  reopened = openStorage(dir)
  expect(reopened.raft.load()).toMatchObject({ snapshot: { index: 8 }, entries: [entry(9, 2)] })
  await reopened.close()
})

test('a data directory from before the WAL has its log moved out of LMDB, once', async () => {
  const dir = tempDir()
  const legacy = open({ path: dir })
  const state = legacy.openDB<unknown, string>({ name: 'raft-state', encoding: 'msgpack' })
  const log = legacy.openDB<Entry, number>({ name: 'raft-log', encoding: 'msgpack' })
  await state.put('snapshot', snapshotAt(2, 1))
  await state.put('hard-state', { term: 3, vote: 'b', commit: 4 })
  for (const i of [1, 2, 3, 4]) await log.put(i, entry(i, i === 4 ? 3 : 1))
  await legacy.close()
  // A move that crashed half-way left its WAL aside; it is made again.
  appendFileSync(join(dir, 'raft-wal.tmp'), 'half a move')

  const storage = openStorage(dir)
  const expected = { hardState: { term: 3, vote: 'b', commit: 4 }, snapshot: { index: 2 }, entries: [entry(3, 1), entry(4, 3)] }
  expect(storage.raft.load()).toMatchObject(expected)
  expect(existsSync(join(dir, 'raft-wal.tmp'))).toBe(false)
  await storage.close()

  const check = open({ path: dir })
  expect(check.openDB({ name: 'raft-state', encoding: 'msgpack' }).get('hard-state')).toBeUndefined()
  expect(check.openDB(existingOnly('raft-log'))).toBeUndefined()
  await check.close()
  const reopened = openStorage(dir)
  expect(reopened.raft.load()).toMatchObject(expected)
  await reopened.close()
})

/** Options that open a database only if it exists (lmdb-js takes `create: false`; its types do not). */
function existingOnly(name: string): { name: string } {
  return { name, create: false } as { name: string }
}

/** Writes a snapshot into LMDB as RaftStorage does first, and stops there, as a crash would. */
async function putSnapshotBehindTheWal(dir: string, snapshot: Snapshot): Promise<void> {
  const env = open({ path: dir })
  await env.openDB<Snapshot, string>({ name: 'raft-state', encoding: 'msgpack' }).put('snapshot', snapshot)
  await env.close()
}

test('a data directory made with the WAL never gets an LMDB Raft log, however often it is opened', async () => {
  const dir = tempDir()
  for (let i = 0; i < 2; i++) {
    const storage = openStorage(dir)
    storage.raft.persist({ ...noReady, entries: [entry(i + 1, 1)] })
    await storage.close()
  }
  const check = open({ path: dir })
  expect(check.openDB(existingOnly('raft-log'))).toBeUndefined()
  await check.close()
})
