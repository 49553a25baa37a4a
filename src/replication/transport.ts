import { encodeReplicationMessage, type ReplicationMessage } from '../protocol/replication-codec.js'

/** What replication needs of the peer link: best-effort delivery to the peers linked right now. */
export interface ReplicationTransport {
  /** False when the message was dropped (no link, or the link's queue is full). */
  send(peer: string, payload: Uint8Array): boolean
  connectedPeers(): string[]
  /** Closes the peer's link with 4400 and `reason`: it sent a message this node cannot use. */
  refuse(peer: string, reason: string): void
}

/** The peer link itself, as ChunkedTransport paces chunks over it. */
export interface PeerLinkTransport extends ReplicationTransport {
  /** Bytes handed to the peer's link and not yet taken by the kernel; 0 without a link. */
  queuedBytes(peer: string): number
}

/** Encodes `message`, sends it, and returns its size in bytes (0 if it was dropped). */
export function sendMessage(transport: ReplicationTransport, peer: string, message: ReplicationMessage): number {
  const payload = encodeReplicationMessage(message)
  return transport.send(peer, payload) ? payload.byteLength : 0
}

/** Splits `items` into runs whose summed `sizeOf` stays under `maxBytes` (an item larger than that goes alone). */
export function chunkBySize<T>(items: readonly T[], sizeOf: (item: T) => number, maxBytes: number): T[][] {
  const chunks: T[][] = []
  let chunk: T[] = []
  let bytes = 0
  for (const item of items) {
    const size = sizeOf(item)
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk)
      chunk = []
      bytes = 0
    }
    chunk.push(item)
    bytes += size
  }
  if (chunk.length > 0) chunks.push(chunk)
  return chunks
}
