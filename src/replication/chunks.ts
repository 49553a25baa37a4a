import type { ChunkMessage } from '../protocol/replication-codec.js'

/**
 * Replication messages larger than a frame travel as chunks: `splitIntoChunks` on the sender,
 * `ChunkReassembly` on the receiver, which hands on a message only once it holds every byte of it. A Yjs update
 * cannot be applied in pieces, so a message is never used half: what a lost chunk leaves unfinished is dropped,
 * and anti-entropy sends it again. No clock or I/O here; the driver is ChunkedTransport.
 */

export interface ReassemblyLimits {
  /** Largest message one peer may send in chunks: the largest document that replicates. */
  maxTransferBytes: number
  /** Bytes held in reassembly for all peers together. */
  maxReassemblyBytes: number
}

/** What a chunk did: nothing to do yet, a whole message, a transfer dropped (say why, once), or a peer refused. */
export type ChunkOutcome =
  | { kind: 'partial' }
  | { kind: 'complete'; payload: Uint8Array }
  | { kind: 'dropped'; transfer: number; reason: string }
  | { kind: 'refused'; reason: string }

interface Transfer {
  transfer: number
  buffer: Uint8Array
  receivedBytes: number
  nextIndex: number
  lastChunkAtMs: number
}

/** The chunks of `payload`, each at most `chunkBytes` long, in the order they must be sent. */
export function splitIntoChunks(payload: Uint8Array, transfer: number, chunkBytes: number): ChunkMessage[] {
  const chunks: ChunkMessage[] = []
  for (let offset = 0, index = 0; offset < payload.byteLength; offset += chunkBytes, index++) {
    const bytes = payload.subarray(offset, offset + chunkBytes)
    chunks.push({ type: 'chunk', transfer, index, totalBytes: payload.byteLength, bytes })
  }
  return chunks
}

/**
 * Reassembles chunked messages, one transfer per peer at a time: a sender sends its transfers to a peer one
 * after the other, so a new transfer's first chunk means the unfinished one lost its tail (a full send queue,
 * a replaced link), and a chunk out of order means one before it was lost. Either drops what it held.
 * Memory is bounded by `maxTransferBytes` per peer and `maxReassemblyBytes` in all.
 */
export class ChunkReassembly {
  private readonly transfers = new Map<string, Transfer>()
  /** Per peer, a dropped transfer whose later chunks are ignored without saying why again. */
  private readonly ignoring = new Map<string, number>()
  private heldBytes = 0

  constructor(private readonly limits: ReassemblyLimits) {}

  /** Bytes held for unfinished transfers, of all peers. */
  get bytesInReassembly(): number {
    return this.heldBytes
  }

  receive(peer: string, chunk: ChunkMessage, nowMs: number): ChunkOutcome {
    if (chunk.index === 0) return this.start(peer, chunk, nowMs)
    const current = this.transfers.get(peer)
    if (current?.transfer !== chunk.transfer) {
      if (this.ignoring.get(peer) === chunk.transfer) return { kind: 'partial' }
      // Late from a replaced link, or the sender's next transfer whose first chunk was lost: the one in
      // reassembly may still complete, and is dropped by the sweep or the peer's next transfer otherwise.
      this.ignoring.set(peer, chunk.transfer)
      return { kind: 'dropped', transfer: chunk.transfer, reason: 'an earlier chunk of it was lost' }
    }
    if (chunk.index !== current.nextIndex || chunk.totalBytes !== current.buffer.byteLength) {
      return this.drop(peer, chunk.transfer, `chunk ${chunk.index} came where chunk ${current.nextIndex} was due`)
    }
    if (current.receivedBytes + chunk.bytes.byteLength > current.buffer.byteLength) {
      this.abandon(peer)
      return { kind: 'refused', reason: `chunks of transfer ${chunk.transfer} run past its ${chunk.totalBytes} bytes` }
    }
    return this.append(peer, current, chunk, nowMs)
  }

  /** Drops the peer's unfinished transfer (its link went down): the rest of it will never come. */
  abandon(peer: string): void {
    const current = this.transfers.get(peer)
    if (current) {
      this.heldBytes -= current.buffer.byteLength
      this.transfers.delete(peer)
    }
    this.ignoring.delete(peer)
  }

  /** Drops every transfer without a chunk since `idleSinceMs`; returns the peers whose transfer it dropped. */
  sweep(idleSinceMs: number): string[] {
    const dropped: string[] = []
    for (const [peer, transfer] of this.transfers) {
      if (transfer.lastChunkAtMs >= idleSinceMs) continue
      this.abandon(peer)
      dropped.push(peer)
    }
    return dropped
  }

  private start(peer: string, chunk: ChunkMessage, nowMs: number): ChunkOutcome {
    this.abandon(peer)
    const { maxTransferBytes, maxReassemblyBytes } = this.limits
    if (chunk.totalBytes > maxTransferBytes) {
      return { kind: 'refused', reason: `a chunked message of ${chunk.totalBytes} bytes is over the limit of ${maxTransferBytes} bytes` }
    }
    if (this.heldBytes + chunk.totalBytes > maxReassemblyBytes) {
      return this.drop(peer, chunk.transfer, `${this.heldBytes} bytes of other transfers leave no room for ${chunk.totalBytes} more`)
    }
    const transfer: Transfer = {
      transfer: chunk.transfer,
      buffer: new Uint8Array(chunk.totalBytes),
      receivedBytes: 0,
      nextIndex: 0,
      lastChunkAtMs: nowMs,
    }
    this.transfers.set(peer, transfer)
    this.heldBytes += chunk.totalBytes
    return this.append(peer, transfer, chunk, nowMs)
  }

  private append(peer: string, transfer: Transfer, chunk: ChunkMessage, nowMs: number): ChunkOutcome {
    transfer.buffer.set(chunk.bytes, transfer.receivedBytes)
    transfer.receivedBytes += chunk.bytes.byteLength
    transfer.nextIndex++
    transfer.lastChunkAtMs = nowMs
    if (transfer.receivedBytes < transfer.buffer.byteLength) return { kind: 'partial' }
    this.abandon(peer)
    return { kind: 'complete', payload: transfer.buffer }
  }

  private drop(peer: string, transfer: number, reason: string): ChunkOutcome {
    this.abandon(peer)
    this.ignoring.set(peer, transfer)
    return { kind: 'dropped', transfer, reason }
  }
}
