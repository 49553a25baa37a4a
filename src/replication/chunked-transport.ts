import type { Logger } from 'pino'
import { encodeReplicationMessage, type ChunkMessage } from '../protocol/replication-codec.js'
import { guarded } from './boundaries.js'
import { ChunkReassembly, splitIntoChunks, type ReassemblyLimits } from './chunks.js'
import type { PeerLinkTransport, ReplicationTransport } from './transport.js'

export interface TransferTuning extends ReassemblyLimits {
  /** A message longer than this goes in chunks of this size, well below the peer link's largest frame. */
  chunkBytes: number
  /** Bytes of chunked messages waiting to be sent to one peer; a message past it is dropped. At least maxTransferBytes. */
  maxOutboundBytesPerPeer: number
  /** Bytes of chunked messages waiting to be sent to all peers together; a message past it is dropped. */
  maxOutboundBytes: number
  /** A transfer without a chunk for this long is dropped by its receiver. */
  transferIdleMs: number
}

const mib = 1024 * 1024

/**
 * Whatever a node's number of peers, chunked messages hold at most 1 GiB of its memory on the way out and 512 MiB
 * on the way in (besides Raft's snapshot transfers, up to its maxSnapshotBytes).
 */
export const defaultTransferTuning: TransferTuning = {
  chunkBytes: mib,
  maxTransferBytes: 256 * mib,
  maxReassemblyBytes: 512 * mib,
  // One message of the largest size: a second one waits for anti-entropy's next round.
  maxOutboundBytesPerPeer: 256 * mib,
  maxOutboundBytes: 1024 * mib,
  transferIdleMs: 30_000,
}

/** How often a sender whose link buffer is full looks again. */
const pacingMs = 2

/**
 * A peer's dropped transfers are logged at most once in this long, the next line counting those not logged: a
 * peer can make a drop of every chunk it sends (each one of a new transfer, never its first chunk).
 */
export const dropLogIntervalMs = 10_000

interface Outbound {
  chunks: ChunkMessage[]
  next: number
  bytes: number
}

/** Thrown for a chunk that breaks the protocol or a limit; the caller refuses the peer. */
export class TransferRefusedError extends Error {
  override name = 'TransferRefusedError'
}

/**
 * Replication's transport for messages of any size, over a peer link whose frames are bounded. A message up to
 * `chunkBytes` goes as it is; a longer one is split (see chunks.ts) and its chunks are paced: the next one is
 * handed to the link only while the link's send buffer holds less than a chunk, so that a large document
 * neither fills the buffer (which would drop live updates) nor makes them wait behind all of it — they go
 * between two chunks. Transfers to one peer go one after the other.
 */
export class ChunkedTransport implements ReplicationTransport {
  private readonly outbound = new Map<string, Outbound[]>()
  private readonly reassembly: ChunkReassembly
  /** Per peer, when a drop was last logged and how many were not since. */
  private readonly dropsLogged = new Map<string, { atMs: number; unlogged: number }>()
  private pacingTimer: NodeJS.Timeout | null = null
  private readonly sweepTimer: NodeJS.Timeout
  private nextTransfer = Math.floor(Math.random() * 2 ** 30)

  constructor(
    private readonly link: PeerLinkTransport,
    private readonly tuning: TransferTuning,
    private readonly log: Logger,
  ) {
    // Else a message of the largest size would be dropped every time, and its document would never replicate.
    if (tuning.maxOutboundBytesPerPeer < tuning.maxTransferBytes || tuning.maxOutboundBytes < tuning.maxOutboundBytesPerPeer) {
      throw new Error('transfer tuning must have maxOutboundBytes ≥ maxOutboundBytesPerPeer ≥ maxTransferBytes')
    }
    this.reassembly = new ChunkReassembly(tuning)
    this.sweepTimer = setInterval(() => guarded(log, 'chunk sweep', () => this.sweep()), tuning.transferIdleMs / 2)
    this.sweepTimer.unref()
  }

  connectedPeers(): string[] {
    return this.link.connectedPeers()
  }

  refuse(peer: string, reason: string): void {
    this.link.refuse(peer, reason)
  }

  /** True when the message was sent or queued in chunks; false when it was dropped. */
  send(peer: string, payload: Uint8Array): boolean {
    const { chunkBytes, maxTransferBytes, maxOutboundBytesPerPeer, maxOutboundBytes } = this.tuning
    if (payload.byteLength <= chunkBytes) return this.link.send(peer, payload)
    if (payload.byteLength > maxTransferBytes) {
      // The receiver would refuse it and close the link, and anti-entropy would send it again every round.
      this.log.warn({ peer, bytes: payload.byteLength, maxTransferBytes }, 'replication message over maxTransferBytes dropped')
      return false
    }
    if (!this.link.connectedPeers().includes(peer)) return false
    const queue = this.outbound.get(peer) ?? []
    const queuedBytes = bytesOf(queue)
    if (queuedBytes + payload.byteLength > maxOutboundBytesPerPeer) {
      this.log.debug({ peer, bytes: payload.byteLength, queuedBytes }, 'chunked replication message dropped: the queue to the peer is full')
      return false
    }
    const queuedBytesInAll = bytesOf([...this.outbound.values()].flat())
    if (queuedBytesInAll + payload.byteLength > maxOutboundBytes) {
      this.log.warn(
        { peer, bytes: payload.byteLength, queuedBytesInAll, maxOutboundBytes },
        'chunked replication message dropped: chunked messages to all peers hold maxOutboundBytes; anti-entropy sends it again later',
      )
      return false
    }
    queue.push({ chunks: splitIntoChunks(payload, this.nextTransfer++, chunkBytes), next: 0, bytes: payload.byteLength })
    this.outbound.set(peer, queue)
    this.pace()
    return true
  }

  /**
   * A chunk from `peer`: the whole message once this was its last chunk. Throws TransferRefusedError for a
   * chunk the peer should not have sent.
   */
  receiveChunk(peer: string, chunk: ChunkMessage): Uint8Array | undefined {
    const nowMs = Date.now()
    const outcome = this.reassembly.receive(peer, chunk, nowMs)
    switch (outcome.kind) {
      case 'complete':
        return outcome.payload
      case 'dropped':
        this.logDrop(peer, outcome.transfer, outcome.reason, nowMs)
        return undefined
      case 'refused':
        throw new TransferRefusedError(outcome.reason)
      case 'partial':
        return undefined
    }
  }

  /** The peer's link went down: what was on the way in either direction will not arrive. */
  linkDown(peer: string): void {
    this.outbound.delete(peer)
    this.reassembly.abandon(peer)
  }

  close(): void {
    clearInterval(this.sweepTimer)
    if (this.pacingTimer) clearTimeout(this.pacingTimer)
    this.outbound.clear()
    this.dropsLogged.clear()
  }

  private logDrop(peer: string, transfer: number, reason: string, nowMs: number): void {
    const last = this.dropsLogged.get(peer)
    if (last && nowMs - last.atMs < dropLogIntervalMs) {
      last.unlogged++
      return
    }
    const unlogged = last?.unlogged ?? 0
    this.log.warn({ peer, transfer, reason, ...(unlogged > 0 && { droppedSinceLastLine: unlogged }) }, 'chunked replication message dropped')
    this.dropsLogged.set(peer, { atMs: nowMs, unlogged: 0 })
  }

  private pace(): void {
    if (this.pacingTimer) clearTimeout(this.pacingTimer)
    this.pacingTimer = null
    const connected = new Set(this.link.connectedPeers())
    for (const [peer, queue] of this.outbound) {
      if (connected.has(peer)) this.sendChunks(peer, queue)
      if (!connected.has(peer) || queue.length === 0) this.outbound.delete(peer)
    }
    if (this.outbound.size === 0) return
    this.pacingTimer = setTimeout(() => guarded(this.log, 'sending chunks', () => this.pace()), pacingMs)
    this.pacingTimer.unref()
  }

  private sendChunks(peer: string, queue: Outbound[]): void {
    while (queue.length > 0 && this.link.queuedBytes(peer) < this.tuning.chunkBytes) {
      const transfer = queue[0]!
      const sent = this.link.send(peer, encodeReplicationMessage(transfer.chunks[transfer.next]!))
      if (!sent) this.log.debug({ peer, transfer: transfer.chunks[0]!.transfer }, 'chunked replication message dropped by the link')
      if (!sent || ++transfer.next === transfer.chunks.length) queue.shift()
    }
  }

  private sweep(): void {
    for (const peer of this.reassembly.sweep(Date.now() - this.tuning.transferIdleMs)) {
      this.log.warn({ peer, idleMs: this.tuning.transferIdleMs }, 'chunked replication message dropped: no chunk of it came in time')
    }
  }
}

const bytesOf = (transfers: readonly Outbound[]) => transfers.reduce((sum, transfer) => sum + transfer.bytes, 0)
