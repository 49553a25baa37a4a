import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { decodeWalBatch, emptyReplay, encodeWalBatch, replayBatch, WalCorruptError, type WalBatch } from '../../src/storage/raft-wal/wal-batch.js'
import {
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  headerCrc,
  recordHeaderBytes,
  scanRecords,
  segmentHeaderBytes,
} from '../../src/storage/raft-wal/wal-format.js'

const payloads = fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 8 })

function segmentOf(records: Uint8Array[], sequence = 1): { bytes: Buffer; ends: number[] } {
  const header = encodeSegmentHeader(sequence)
  let crc = headerCrc(header)
  const parts: Buffer[] = [header]
  const ends: number[] = [segmentHeaderBytes]
  for (const payload of records) {
    const record = encodeRecord(payload, crc)
    crc = record.crc
    parts.push(record.bytes)
    ends.push(ends.at(-1)! + record.bytes.length)
  }
  return { bytes: Buffer.concat(parts), ends }
}

const scan = (bytes: Uint8Array) => scanRecords(bytes, segmentHeaderBytes, headerCrc(bytes.subarray(0, segmentHeaderBytes)))

describe('WAL records', () => {
  test('what is written reads back whole, and zeros after it end the records', () => {
    fc.assert(
      fc.property(payloads, fc.nat({ max: 64 }), (records, zeros) => {
        const { bytes, ends } = segmentOf(records)
        const scanned = scan(Buffer.concat([bytes, Buffer.alloc(zeros)]))
        expect(scanned.payloads.map((p) => Buffer.from(p))).toEqual(records.map((p) => Buffer.from(p)))
        expect(scanned.end).toBe(ends.at(-1))
        expect(scanned.stop).toBe(zeros === 0 ? 'end' : 'zeros')
      }),
    )
  })

  test('a segment cut anywhere reads as the records before the cut, and never more', () => {
    fc.assert(
      fc.property(payloads.filter((r) => r.length > 0), fc.double({ min: 0, max: 1, noNaN: true }), (records, where) => {
        const { bytes, ends } = segmentOf(records)
        const cut = segmentHeaderBytes + Math.floor(where * (bytes.length - segmentHeaderBytes))
        const scanned = scan(bytes.subarray(0, cut))
        const whole = ends.filter((end) => end <= cut).length - 1
        expect(scanned.payloads).toHaveLength(whole)
        expect(scanned.end).toBe(ends[whole])
        expect(scanned.stop).toBe(cut === ends[whole] ? 'end' : 'damaged')
        expect(scanned.writtenAfter).toBe(false)
      }),
    )
  })

  test('a changed byte in a record stops the scan at that record', () => {
    fc.assert(
      fc.property(payloads.filter((r) => r.length > 0), fc.nat(), fc.integer({ min: 1, max: 255 }), (records, at, flip) => {
        const { bytes, ends } = segmentOf(records)
        const offset = segmentHeaderBytes + (at % (bytes.length - segmentHeaderBytes))
        bytes[offset]! ^= flip
        const hit = ends.findIndex((end) => end > offset) - 1
        const scanned = scan(bytes)
        expect(scanned.payloads).toHaveLength(hit)
        expect(scanned.end).toBe(ends[hit])
        // A flipped length can also read as zero: the end of the written part.
        expect(['damaged', 'zeros']).toContain(scanned.stop)
        // With its length intact, the records after the damaged one show they were written after it: not a torn
        // tail. (A length past the file's end can be a torn write whose size change did not reach the disk.)
        const inLength = offset - ends[hit]! < 4
        if (!inLength && hit < records.length - 1) expect(scanned.writtenAfter).toBe(true)
      }),
    )
  })

  test('a record from before a truncation does not pass as the next one (the CRC is chained)', () => {
    const { bytes } = segmentOf([new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])])
    const first = recordHeaderBytes + 1
    // Drop the second record: the third now follows the first, but was framed after the second.
    const spliced = Buffer.concat([bytes.subarray(0, segmentHeaderBytes + first), bytes.subarray(segmentHeaderBytes + 2 * first)])
    const scanned = scan(spliced)
    expect(scanned.payloads).toHaveLength(1)
    expect(scanned.stop).toBe('damaged')
  })

  test('arbitrary bytes never throw: they are a header or not, records or damage', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.nat(), (bytes, seed) => {
        expect([null, expect.any(Number)]).toContainEqual(decodeSegmentHeader(bytes))
        const scanned = scanRecords(bytes, 0, seed >>> 0)
        expect(scanned.end).toBeLessThanOrEqual(bytes.length)
      }),
    )
  })

  test('a header reads back its sequence number; another file is not a segment', () => {
    fc.assert(fc.property(fc.maxSafeNat(), (sequence) => {
        expect(decodeSegmentHeader(encodeSegmentHeader(sequence))).toBe(sequence)
      }))
    expect(decodeSegmentHeader(Buffer.from('data.mdb is not a WAL segment'))).toBeNull()
  })
})

describe('WAL batches', () => {
  const batches: fc.Arbitrary<WalBatch> = fc.record(
    {
      snapshot: fc.record({ index: fc.nat(), term: fc.nat(), reset: fc.boolean() }),
      entries: fc.array(fc.record({ index: fc.nat(), term: fc.nat(), data: fc.jsonValue() }), { maxLength: 4 }),
      hardState: fc.record({ term: fc.nat(), vote: fc.option(fc.string(), { nil: null }), commit: fc.nat() }),
    },
    { requiredKeys: [] },
  )

  test('a batch reads back as written (commands as JSON has them: msgpack, like JSON, writes -0 as 0)', () => {
    fc.assert(
      fc.property(batches, (batch) => {
        expect(decodeWalBatch(encodeWalBatch(batch))).toEqual(JSON.parse(JSON.stringify(batch)))
      }),
    )
  })

  test('a payload that is not a batch is refused with WalCorruptError, never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeWalBatch(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(WalCorruptError)
        }
      }),
    )
    expect(() => decodeWalBatch(encodeWalBatch({ entries: [{ index: -1, term: 1, data: null }] }))).toThrow(WalCorruptError)
    expect(() => decodeWalBatch(encodeWalBatch({ hardState: { term: 1, vote: 7 as never, commit: 0 } }))).toThrow(WalCorruptError)
    expect(() => decodeWalBatch(encodeWalBatch({ hardState: null as never }))).toThrow(WalCorruptError)
    expect(() => decodeWalBatch(encodeWalBatch({ snapshot: null as never }))).toThrow(WalCorruptError)
  })

  test('replayed entries stay contiguous: a record that would leave a hole in them is damage', () => {
    const replay = emptyReplay()
    const entry = (index: number) => ({ index, term: 1, data: null })
    replayBatch(replay, { entries: [entry(1), entry(2), entry(3)] })
    replayBatch(replay, { entries: [entry(2)] })
    expect(replay.entries.map((e) => e.index)).toEqual([1, 2])
    replayBatch(replay, { snapshot: { index: 1, term: 1, reset: false } })
    expect(replay.entries.map((e) => e.index)).toEqual([2])
    expect(() => replayBatch(replay, { entries: [entry(5)] })).toThrow(WalCorruptError)
  })
})
