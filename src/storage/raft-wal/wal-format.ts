import { crc32 } from 'node:zlib'

/**
 * The bytes of a Raft WAL segment. A segment starts with a header (magic, format version, sequence number)
 * and holds records back to back: a 4-byte little-endian payload length, a 4-byte CRC-32, the payload. The
 * CRC is chained — it covers the length and payload of this record on top of the previous record's CRC
 * (the header's for the first) — so a record left over from before a truncation, or copied from another
 * segment, does not pass as the next one. A length of zero is where the written part ends: the rest of a
 * segment is zeros, written ahead of the records so that appending does not change the file's size.
 */

export const segmentHeaderBytes = 16
export const recordHeaderBytes = 8
/** Larger than any batch the driver writes; a length past it is damage, not a record. */
export const maxRecordBytes = 256 * 1024 * 1024

const magic = Buffer.from('SMWAL\0\0\x01', 'latin1')

export function encodeSegmentHeader(sequence: number): Buffer {
  const header = Buffer.alloc(segmentHeaderBytes)
  magic.copy(header, 0)
  header.writeBigUInt64LE(BigInt(sequence), 8)
  return header
}

/** The segment's sequence number, or null when the bytes are not a segment header of this format. */
export function decodeSegmentHeader(bytes: Uint8Array): number | null {
  if (bytes.length < segmentHeaderBytes) return null
  const header = Buffer.from(bytes.buffer, bytes.byteOffset, segmentHeaderBytes)
  if (!header.subarray(0, 8).equals(magic)) return null
  const sequence = header.readBigUInt64LE(8)
  return sequence <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(sequence) : null
}

export function headerCrc(header: Uint8Array): number {
  return crc32(header)
}

/** Frames one payload as the record that follows a record (or header) whose CRC was `previousCrc`. */
export function encodeRecord(payload: Uint8Array, previousCrc: number): { bytes: Buffer; crc: number } {
  const bytes = Buffer.allocUnsafe(recordHeaderBytes + payload.length)
  bytes.writeUInt32LE(payload.length, 0)
  bytes.set(payload, recordHeaderBytes)
  const crc = recordCrc(bytes.subarray(0, 4), payload, previousCrc)
  bytes.writeUInt32LE(crc, 4)
  return { bytes, crc }
}

function recordCrc(length: Uint8Array, payload: Uint8Array, previousCrc: number): number {
  return crc32(payload, crc32(length, previousCrc))
}

export interface ScannedRecords {
  payloads: Uint8Array[]
  /** Offset just past the last good record. */
  end: number
  /** CRC of the last good record (the chain's value at `end`). */
  crc: number
  /**
   * Why the scan stopped: `end` at the end of the bytes, `zeros` at a zero length (the unwritten part),
   * `damaged` at a record whose length or CRC is wrong — a torn write, or worse.
   */
  stop: 'end' | 'zeros' | 'damaged'
  /**
   * At a damaged record: whether anything but zeros lies past the extent its length claims. A torn write leaves
   * only the zeros written ahead there; bytes mean later records were written after it, so it was acknowledged.
   */
  writtenAfter: boolean
}

/** Reads the records of a segment's bytes from `offset` on, up to the first that is not whole and intact. */
export function scanRecords(bytes: Uint8Array, offset: number, startCrc: number): ScannedRecords {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const payloads: Uint8Array[] = []
  let at = offset
  let crc = startCrc
  const stopped = (stop: ScannedRecords['stop'], extentEnd = view.length): ScannedRecords => ({
    payloads,
    end: at,
    crc,
    stop,
    writtenAfter: stop === 'damaged' && !restIsZero(view, extentEnd),
  })
  for (;;) {
    if (at === view.length) return stopped('end')
    if (at + recordHeaderBytes > view.length) return stopped(restIsZero(view, at) ? 'zeros' : 'damaged')
    const length = view.readUInt32LE(at)
    if (length === 0) return stopped('zeros')
    if (length > maxRecordBytes || at + recordHeaderBytes + length > view.length) return stopped('damaged')
    const payload = view.subarray(at + recordHeaderBytes, at + recordHeaderBytes + length)
    const expected = recordCrc(view.subarray(at, at + 4), payload, crc)
    if (view.readUInt32LE(at + 4) !== expected) return stopped('damaged', at + recordHeaderBytes + length)
    payloads.push(payload)
    crc = expected
    at += recordHeaderBytes + length
  }
}

function restIsZero(view: Buffer, from: number): boolean {
  for (let i = from; i < view.length; i++) if (view[i] !== 0) return false
  return true
}
