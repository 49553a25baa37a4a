import type { CommittedUpdates, DocStore } from '../docs/doc-store.js'
import { encodeReplicationMessage, type NamedUpdate } from '../protocol/replication-codec.js'
import { PeerOrigin } from './peer-origin.js'
import { chunkBySize, type ReplicationTransport } from './transport.js'

/** Updates per message stay under this, well below the peer link's largest frame. */
const maxBatchBytes = 1024 * 1024

/**
 * Pushes every update this node made durable for its own clients to every linked peer, batched per turn
 * of the event loop. Updates that came from a peer are not sent on: every node pushes its own, and
 * anti-entropy repairs whatever a missing link or a full queue dropped.
 */
export class LiveFanout {
  private queued: NamedUpdate[] = []
  private scheduled = false
  /** Updates handed to the peer link, and updates it dropped (no link or a full queue), per peer. */
  readonly sent = new Map<string, { updates: number; dropped: number }>()

  constructor(
    docs: DocStore,
    private readonly transport: ReplicationTransport,
  ) {
    docs.on({ committed: (name, updates) => this.enqueue(name, updates) })
  }

  private enqueue(name: string, updates: CommittedUpdates): void {
    for (const { update, origin } of updates) {
      if (!(origin instanceof PeerOrigin)) this.queued.push({ name, update })
    }
    if (this.queued.length === 0 || this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.scheduled = false
    const batches = chunkBySize(this.queued, ({ name, update }) => name.length + update.byteLength, maxBatchBytes)
    this.queued = []
    const peers = this.transport.connectedPeers()
    for (const updates of batches) {
      const payload = encodeReplicationMessage({ type: 'updates', updates })
      for (const peer of peers) {
        const counts = this.sent.get(peer) ?? { updates: 0, dropped: 0 }
        this.sent.set(peer, counts)
        if (this.transport.send(peer, payload)) counts.updates += updates.length
        else counts.dropped += updates.length
      }
    }
  }
}
