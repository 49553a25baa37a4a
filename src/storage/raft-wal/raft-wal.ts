import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { HardState } from '../../raft/types.js'
import {
  listSegments,
  readSegment,
  segmentPath,
  syncData,
  syncDirectory,
  writeFully,
  writeZeros,
  type ReadSegment,
} from './segment-file.js'
import { emptyReplay, encodeWalBatch, replayBatch, splitBatch, WalCorruptError, type SnapshotMark, type WalBatch, type WalReplay } from './wal-batch.js'
import { encodeRecord, encodeSegmentHeader, headerCrc, maxRecordBytes } from './wal-format.js'

export interface RaftWalOptions {
  /** A segment is closed, and the next one started, once its records pass this size. */
  segmentBytes: number
  /** Zeros written ahead of the records at a time, so that most appends leave the file's size alone. */
  preallocateBytes: number
  /** A batch whose record would pass this many bytes is split into several (at most, and by default, wal-format's limit). */
  maxRecordBytes?: number
}

export const defaultRaftWalOptions: RaftWalOptions = { segmentBytes: 64 * 1024 * 1024, preallocateBytes: 4 * 1024 * 1024 }

interface Segment {
  sequence: number
  path: string
  /** The highest entry index any of its records wrote (0 for none). */
  maxIndex: number
  /** It holds a snapshot from the leader, which makes every older segment obsolete. */
  holdsReset: boolean
}

/** A damaged record at the end of the last segment, which opening the WAL cut off. */
export interface TailRecovery {
  segment: string
  keptBytes: number
  droppedBytes: number
}

/**
 * The Raft log and hard state as a write-ahead log of its own: append-only segment files of CRC-framed
 * records, one record per Ready and one fdatasync per record — one device flush per write, where an LMDB
 * commit is two. Opening it cuts a torn or zero-filled tail off the last segment (a crash mid-write: that
 * record was never acknowledged); damage anywhere else stops the node with WalCorruptError. Every segment
 * begins with the snapshot mark and hard state as they were, so segments whose entries a snapshot covers
 * can be removed whole.
 */
export class RaftWal {
  private fd: number
  private offset: number
  private allocated: number
  private crc: number
  private mark: SnapshotMark | null = null
  private hardState: HardState | null = null
  /** What opening read, until it is handed out or an append makes it old: start-up reads the segments once. */
  private opened: WalReplay | null

  private constructor(
    private readonly dir: string,
    private readonly options: RaftWalOptions,
    private readonly segments: Segment[],
    active: { fd: number; offset: number; crc: number },
    replay: WalReplay,
    /** Set when opening cut a damaged record off the tail (zeros past the last record are cut silently). */
    readonly recovered: TailRecovery | null,
  ) {
    this.fd = active.fd
    this.offset = active.offset
    this.allocated = active.offset
    this.crc = active.crc
    this.mark = replay.mark
    this.hardState = replay.hardState
    this.opened = replay
  }

  static open(dir: string, options: RaftWalOptions = defaultRaftWalOptions): RaftWal {
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true })
      // The directory's own name must be durable too, or a power loss could take the whole WAL with it.
      syncDirectory(dirname(dir))
    }
    for (const name of readdirSync(dir)) if (name.endsWith('.tmp')) rmSync(join(dir, name))
    const read = listSegments(dir).map(({ path, sequence }) => readSegment(path, sequence))
    if (read.length === 0) read.push(createSegment(dir, 1, {}))
    const replay = emptyReplay()
    const segments: Segment[] = []
    read.forEach((segment, i) => {
      if (i < read.length - 1 && segment.scan.stop === 'damaged') {
        throw new WalCorruptError(`${segment.path} is damaged at offset ${segment.scan.end}, and later segments follow it`)
      }
      if (segment.scan.writtenAfter) {
        throw new WalCorruptError(`${segment.path} is damaged at offset ${segment.scan.end}, and records written after it follow`)
      }
      for (const batch of segment.batches) replayBatch(replay, batch)
      segments.push(describe(segment))
    })
    const last = read.at(-1)!
    const fd = openSync(last.path, 'r+')
    const recovered = cutTail(fd, last)
    return new RaftWal(dir, options, segments, { fd, offset: last.scan.end, crc: last.scan.crc }, replay, recovered)
  }

  /** The log as the segments on disk hold it; the caller may keep and change what it gets. */
  replay(): WalReplay {
    const opened = this.opened
    this.opened = null
    if (opened) return opened
    const replay = emptyReplay()
    for (const { path, sequence } of listSegments(this.dir)) {
      for (const batch of readSegment(path, sequence).batches) replayBatch(replay, batch)
    }
    return replay
  }

  /** True once a hard state was ever written: the node has been part of a cluster. */
  hasHardState(): boolean {
    return this.hardState !== null
  }

  /** Appends one batch; durable when this returns. A batch too large for one record goes as several (splitBatch). */
  append(batch: WalBatch): void {
    const payload = encodeWalBatch(batch)
    // Opening would take a longer record for damage.
    const limit = Math.min(this.options.maxRecordBytes ?? maxRecordBytes, maxRecordBytes)
    if (payload.byteLength > limit) {
      const parts = splitBatch(batch)
      if (!parts) throw new Error(`a WAL record of ${payload.byteLength} bytes passes the limit of ${limit}`)
      for (const part of parts) this.append(part)
      return
    }
    const { bytes, crc } = encodeRecord(payload, this.crc)
    this.opened = null
    const end = this.offset + bytes.length
    if (end > this.allocated) {
      const allocated = Math.max(end, this.allocated + this.options.preallocateBytes)
      writeZeros(this.fd, this.allocated, allocated)
      this.allocated = allocated
    }
    writeFully(this.fd, bytes, this.offset)
    syncData(this.fd)
    this.offset = end
    this.crc = crc
    this.note(batch)
    if (this.offset >= this.options.segmentBytes) this.startNextSegment()
    else if (batch.snapshot) this.removeCoveredSegments()
  }

  close(): void {
    closeSync(this.fd)
  }

  private note(batch: WalBatch): void {
    const active = this.segments.at(-1)!
    if (batch.snapshot) {
      this.mark = batch.snapshot
      if (batch.snapshot.reset) active.holdsReset = true
    }
    const lastEntry = batch.entries?.at(-1)
    if (lastEntry) active.maxIndex = Math.max(active.maxIndex, lastEntry.index)
    if (batch.hardState) this.hardState = batch.hardState
  }

  private startNextSegment(): void {
    const sequence = this.segments.at(-1)!.sequence + 1
    // The mark is repeated without `reset`: replayed after the older segments, it must not drop entries they hold.
    const base: WalBatch = {
      ...(this.mark && { snapshot: { ...this.mark, reset: false } }),
      ...(this.hardState && { hardState: this.hardState }),
    }
    const created = createSegment(this.dir, sequence, base)
    const fd = openSync(created.path, 'r+')
    closeSync(this.fd)
    this.fd = fd
    this.offset = created.scan.end
    this.allocated = created.fileBytes
    this.crc = created.scan.crc
    this.segments.push(describe(created))
    this.removeCoveredSegments()
  }

  /** Removes the oldest segments while the latest snapshot makes them useless; never the one being written. */
  private removeCoveredSegments(): void {
    const lastReset = this.segments.findLastIndex((s) => s.holdsReset)
    const covered = this.mark?.index ?? 0
    let removable = 0
    while (removable < this.segments.length - 1) {
      const segment = this.segments[removable]!
      if (removable >= lastReset && segment.maxIndex > covered) break
      removable++
    }
    if (removable === 0) return
    for (const segment of this.segments.splice(0, removable)) rmSync(segment.path)
    syncDirectory(this.dir)
  }
}

function describe(segment: ReadSegment): Segment {
  let maxIndex = 0
  let holdsReset = false
  for (const batch of segment.batches) {
    maxIndex = Math.max(maxIndex, batch.entries?.at(-1)?.index ?? 0)
    holdsReset ||= batch.snapshot?.reset === true
  }
  return { sequence: segment.sequence, path: segment.path, maxIndex, holdsReset }
}

/**
 * Makes a segment holding the header and `base`, durable, under its final name: it is written as `.tmp` and
 * renamed, so a crash never leaves a segment without its base record.
 */
function createSegment(dir: string, sequence: number, base: WalBatch): ReadSegment {
  const path = segmentPath(dir, sequence)
  const header = encodeSegmentHeader(sequence)
  const hasBase = Object.keys(base).length > 0
  const record = hasBase ? encodeRecord(encodeWalBatch(base), headerCrc(header)).bytes : Buffer.alloc(0)
  const fd = openSync(`${path}.tmp`, 'w')
  try {
    writeFully(fd, Buffer.concat([header, record]), 0)
    syncData(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(`${path}.tmp`, path)
  syncDirectory(dir)
  return readSegment(path, sequence)
}

/**
 * Truncates the last segment just past its last intact record, so that the next record follows it: a torn
 * record, or zeros (written ahead, or the pages of a record the crash kept from the disk).
 */
function cutTail(fd: number, segment: ReadSegment): TailRecovery | null {
  const { end, stop } = segment.scan
  if (segment.fileBytes === end) return null
  ftruncateSync(fd, end)
  syncData(fd)
  return stop === 'damaged' ? { segment: segment.path, keptBytes: end, droppedBytes: segment.fileBytes - end } : null
}
