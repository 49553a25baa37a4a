import { closeSync, fdatasyncSync, fsyncSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { decodeWalBatch, WalCorruptError, type WalBatch } from './wal-batch.js'
import { decodeSegmentHeader, headerCrc, scanRecords, segmentHeaderBytes, type ScannedRecords } from './wal-format.js'

/** Segment files are named by their sequence number, zero-padded so that names sort as numbers do. */
export function segmentPath(dir: string, sequence: number): string {
  return join(dir, `${String(sequence).padStart(16, '0')}.wal`)
}

/** The segments in `dir`, oldest first; a file being made (`.tmp`) is not one yet. */
export function listSegments(dir: string): { sequence: number; path: string }[] {
  return readdirSync(dir)
    .filter((name) => /^\d{16}\.wal$/.test(name))
    .map((name) => ({ sequence: Number(name.slice(0, 16)), path: join(dir, name) }))
    .sort((a, b) => a.sequence - b.sequence)
}

export interface ReadSegment {
  sequence: number
  path: string
  batches: WalBatch[]
  scan: ScannedRecords
  fileBytes: number
}

export function readSegment(path: string, sequence: number): ReadSegment {
  const bytes = readFileSync(path)
  if (decodeSegmentHeader(bytes) !== sequence) throw new WalCorruptError(`${path} does not start with the header of segment ${sequence}`)
  const scan = scanRecords(bytes, segmentHeaderBytes, headerCrc(bytes.subarray(0, segmentHeaderBytes)))
  try {
    return { sequence, path, batches: scan.payloads.map(decodeWalBatch), scan, fileBytes: bytes.length }
  } catch (err) {
    throw new WalCorruptError(`${path}: ${(err as Error).message}`)
  }
}

const zeros = Buffer.alloc(1024 * 1024)

/** Writes all of `bytes` at `position` (a positional write may write less than asked). */
export function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  let written = 0
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, position + written)
}

/** Writes zeros over [from, to): space the records then fill without changing the file's size. */
export function writeZeros(fd: number, from: number, to: number): void {
  for (let at = from; at < to; at += zeros.length) writeFully(fd, zeros.subarray(0, Math.min(zeros.length, to - at)), at)
}

export function syncData(fd: number): void {
  fdatasyncSync(fd)
}

/** Makes a created, renamed or removed file's name durable. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
