import type { Logger } from 'pino'
import type { CommittedUpdates, DocStore } from '../docs/doc-store.js'
import { encodeReplicationMessage, type NamedUpdate } from '../protocol/replication-codec.js'
import { guarded } from './boundaries.js'
import { PeerOrigin } from './peer-origin.js'
import { chunkBySize, type ReplicationTransport } from './transport.js'

/** Updates per message stay under this, well below the peer link's largest frame. */
const maxBatchBytes = 1024 * 1024

/**
 * Pushes every update this node made durable for its own clients to every linked peer, batched per turn
 * of the event loop, and relays what anti-entropy brought from a peer to the other peers (see PeerOrigin).
 * Anti-entropy repairs whatever a missing link or a full queue dropped.
 */
export class LiveFanout {
  /** Updates to push, by the peer they came from ('' for this node's own), which does not get them back. */
  private queued = new Map<string, NamedUpdate[]>()
  private scheduled = false
  /** Updates handed to the peer link, and updates it dropped (no link or a full queue), per peer. */
  readonly sent = new Map<string, { updates: number; dropped: number }>()
  private readonly stopListening: () => void

  constructor(
    docs: DocStore,
    private readonly transport: ReplicationTransport,
    private readonly log: Logger,
  ) {
    this.stopListening = docs.on({ committed: (name, updates) => this.enqueue(name, updates) })
  }

  close(): void {
    this.stopListening()
  }

  private enqueue(name: string, updates: CommittedUpdates): void {
    for (const { update, origin } of updates) {
      if (origin instanceof PeerOrigin && !origin.relay) continue
      const source = origin instanceof PeerOrigin ? origin.peer : ''
      const list = this.queued.get(source)
      if (list) list.push({ name, update })
      else this.queued.set(source, [{ name, update }])
    }
    if (this.queued.size === 0 || this.scheduled) return
    this.scheduled = true
    setImmediate(() => guarded(this.log, 'live fan-out', () => this.flush()))
  }

  private flush(): void {
    this.scheduled = false
    const queued = this.queued
    this.queued = new Map()
    const peers = this.transport.connectedPeers()
    for (const [source, updates] of queued) {
      const targets = peers.filter((peer) => peer !== source)
      // A node with nobody to push to (alone, or cut off) encodes nothing: anti-entropy repairs the peers later.
      if (targets.length === 0) continue
      for (const batch of chunkBySize(updates, ({ name, update }) => name.length + update.byteLength, maxBatchBytes)) {
        const payload = encodeReplicationMessage({ type: 'updates', updates: batch })
        for (const peer of targets) this.send(peer, payload, batch.length)
      }
    }
  }

  private send(peer: string, payload: Uint8Array, updates: number): void {
    const counts = this.sent.get(peer) ?? { updates: 0, dropped: 0 }
    this.sent.set(peer, counts)
    if (this.transport.send(peer, payload)) counts.updates += updates
    else counts.dropped += updates
  }
}
