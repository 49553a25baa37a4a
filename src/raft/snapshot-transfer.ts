import type { Message, NodeId, Snapshot, SnapshotMeta, SnapshotRefusal } from './types.js'

type ChunkMessage = Extract<Message, { type: 'snapshot-chunk' }>

/**
 * The leader's side of sending one snapshot to one follower (InstallSnapshot with offsets, Raft §7): the data
 * goes in chunks of `chunkBytes`, at most `windowChunks` of them unacknowledged, so that a snapshot of any
 * size crosses a link whose frames are bounded without filling its send buffer. The snapshot is held here
 * until the transfer ends, so a compaction on the leader meanwhile does not change the bytes mid-transfer.
 */
export class SnapshotSender {
  readonly meta: SnapshotMeta
  private readonly chunkCount: number
  /** The next chunk to send, and how many the follower acknowledged holding. */
  private nextChunk = 0
  private ackedChunks = 0
  /** Set at an election timeout, cleared by any acknowledgement: still set at the next one means a stall. */
  private overdue = false

  constructor(
    readonly snapshot: Snapshot,
    private readonly chunkBytes: number,
    private readonly windowChunks: number,
  ) {
    this.meta = { index: snapshot.index, term: snapshot.term, config: snapshot.config }
    // An empty snapshot still goes as one (empty) chunk: the chunk that reaches the total completes it.
    this.chunkCount = Math.max(1, Math.ceil(snapshot.data.byteLength / chunkBytes))
  }

  /** The chunks that fill the window now, marked sent. */
  takeChunks(): { offset: number; data: Uint8Array }[] {
    const chunks: { offset: number; data: Uint8Array }[] = []
    while (this.nextChunk < this.chunkCount && this.nextChunk - this.ackedChunks < this.windowChunks) {
      const offset = this.nextChunk * this.chunkBytes
      chunks.push({ offset, data: this.snapshot.data.subarray(offset, offset + this.chunkBytes) })
      this.nextChunk++
    }
    return chunks
  }

  /**
   * The follower holds the first `offset` bytes. A rejection resends from there — below what it acknowledged
   * before if it restarted and lost its partial copy.
   */
  onAck(offset: number, reject: boolean): void {
    const total = this.snapshot.data.byteLength
    // The follower acknowledges what it assembled from our chunks, so anything off their boundaries is not ours.
    if (offset > total || (offset % this.chunkBytes !== 0 && offset !== total)) return
    const held = Math.ceil(offset / this.chunkBytes)
    this.overdue = false
    if (reject) {
      this.ackedChunks = held
      this.nextChunk = held
    } else if (held > this.ackedChunks) {
      this.ackedChunks = held
      this.nextChunk = Math.max(this.nextChunk, held)
    }
  }

  /**
   * Called at each election timeout. A chunk or acknowledgement lost in the network (or dropped by a full send
   * buffer) would stall the transfer forever: after one to two timeouts without an acknowledgement, rewind to
   * the last acknowledged chunk. Returns true when there is something to send again.
   */
  checkStalled(): boolean {
    if (!this.overdue) {
      this.overdue = true
      return false
    }
    this.overdue = false
    this.nextChunk = this.ackedChunks
    return true
  }
}

export type SnapshotChunkOutcome =
  | { kind: 'ack'; offset: number; reject: boolean }
  | { kind: 'complete'; snapshot: Snapshot }
  /** The first chunk seen of a snapshot over `maxSnapshotBytes`; its later chunks are ignored. */
  | { kind: 'too-large'; refusal: SnapshotRefusal }
  /** Nothing to answer: the chunk is malformed, or the leader was already told where to resume or refused. */
  | { kind: 'ignored' }

interface Assembly {
  from: NodeId
  term: number
  meta: SnapshotMeta
  totalBytes: number
  parts: Uint8Array[]
  received: number
}

/**
 * The follower's side: assembles the chunks of one snapshot from one leader in one term, in order, and hands
 * it over only once complete. One snapshot at a time, at most `maxSnapshotBytes`; held in memory only, so a
 * restart begins the transfer again (the leader learns it from the rejection of its next chunk).
 */
export class SnapshotReceiver {
  private assembly: Assembly | null = null
  /** The last rejection sent; later chunks past the same gap are ignored, as the leader already rewinds. */
  private lastRejection: string | null = null
  /** The last snapshot refused as too large: the leader resends it at every stall, and it is refused once. */
  private lastRefusal: string | null = null

  constructor(private readonly maxSnapshotBytes: number) {}

  /** Forgets any partial snapshot: its leader or term is no longer current. */
  abandon(): void {
    this.assembly = null
    this.lastRejection = null
  }

  receive(m: ChunkMessage): SnapshotChunkOutcome {
    const end = m.offset + m.data.byteLength
    const wellFormed = end <= m.totalBytes && (m.data.byteLength > 0 || m.totalBytes === 0)
    if (!wellFormed) return { kind: 'ignored' }
    if (m.totalBytes > this.maxSnapshotBytes) return this.refuse(m)
    let assembly = this.assembly
    if (!assembly || !sameTransfer(assembly, m)) {
      if (m.offset !== 0) return this.reject(m, 0)
      assembly = { from: m.from, term: m.term, meta: m.snapshot, totalBytes: m.totalBytes, parts: [], received: 0 }
      this.assembly = assembly
    }
    if (m.offset < assembly.received) return { kind: 'ack', offset: assembly.received, reject: false }
    if (m.offset > assembly.received) return this.reject(m, assembly.received)
    assembly.parts.push(m.data)
    assembly.received = end
    this.lastRejection = null
    if (end < assembly.totalBytes) return { kind: 'ack', offset: end, reject: false }
    this.assembly = null
    return { kind: 'complete', snapshot: { ...assembly.meta, data: concat(assembly.parts, assembly.totalBytes) } }
  }

  private refuse(m: ChunkMessage): SnapshotChunkOutcome {
    const refusal = transferKey(m)
    if (refusal === this.lastRefusal) return { kind: 'ignored' }
    this.lastRefusal = refusal
    return {
      kind: 'too-large',
      refusal: { from: m.from, index: m.snapshot.index, totalBytes: m.totalBytes, maxSnapshotBytes: this.maxSnapshotBytes },
    }
  }

  private reject(m: ChunkMessage, offset: number): SnapshotChunkOutcome {
    const rejection = `${transferKey(m)} ${offset}`
    if (rejection === this.lastRejection) return { kind: 'ignored' }
    this.lastRejection = rejection
    return { kind: 'ack', offset, reject: true }
  }
}

const transferKey = (m: ChunkMessage) => `${m.from} ${m.term} ${m.snapshot.index} ${m.snapshot.term}`

function sameTransfer(a: Assembly, m: ChunkMessage): boolean {
  return (
    a.from === m.from &&
    a.term === m.term &&
    a.totalBytes === m.totalBytes &&
    a.meta.index === m.snapshot.index &&
    a.meta.term === m.snapshot.term
  )
}

function concat(parts: Uint8Array[], totalBytes: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.byteLength === totalBytes) return parts[0]!
  const out = new Uint8Array(totalBytes)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}
