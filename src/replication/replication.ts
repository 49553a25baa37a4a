import type { Logger } from 'pino'
import type { DocStore } from '../docs/doc-store.js'
import type { PeerNetwork } from '../peer/peer-network.js'
import type { LinkState } from '../peer/link-state.js'
import { decodeReplicationMessage, encodeReplicationMessage } from '../protocol/replication-codec.js'
import { AntiEntropy, type ReconciliationStats } from './anti-entropy.js'
import { forDoc, refuseFromPeer } from './boundaries.js'
import { DigestIndex } from './digest-index.js'
import { DocExchange } from './doc-exchange.js'
import { LiveFanout } from './live-fanout.js'
import type { ReplicationTransport } from './transport.js'

export interface ReplicationOptions {
  selfId: string
  antiEntropyMs: number
  /** Whether the committed metadata holds a tombstone for the document. */
  isDeleted(name: string): boolean
}

/** What `GET /v1/cluster` and `/metrics` show of one peer. */
export interface PeerReplicationStatus {
  id: string
  link: LinkState
  /** Updates live fan-out pushed to the peer (this node's own and relayed ones), and those dropped for want of a link or queue room. */
  liveUpdatesSent: number
  liveUpdatesDropped: number
  /** Updates from the peer that this node already held, and so did not store again. */
  updatesAlreadyHeld: number
  lastReconciliation: ReconciliationStats | null
}

/** This node's documents as anti-entropy sees them (see `Replication.summary`). */
export interface ReplicationSummary {
  documents: number
  fingerprint: string
  staleDigests: number
}

/** Replicas of every document across the cluster: live fan-out plus anti-entropy, over the peer link. */
export class Replication {
  private readonly index: DigestIndex
  private readonly fanout: LiveFanout
  private readonly antiEntropy: AntiEntropy
  private readonly exchange: DocExchange
  private readonly transport: ReplicationTransport
  private awarenessListener: (doc: string, update: Uint8Array) => void = () => {}

  constructor(
    docs: DocStore,
    private readonly peers: PeerNetwork,
    options: ReplicationOptions,
    private readonly log: Logger,
  ) {
    const transport: ReplicationTransport = {
      send: (peer, payload) => peers.send(peer, 'replication', payload),
      connectedPeers: () => peers.connectedPeers(),
      refuse: (peer, reason) => peers.refuseMessage(peer, 'replication', reason),
    }
    this.transport = transport
    this.index = new DigestIndex(docs, log)
    this.fanout = new LiveFanout(docs, transport, log)
    this.exchange = new DocExchange(docs, options.isDeleted, log)
    this.antiEntropy = new AntiEntropy(this.index, this.exchange, transport, options.antiEntropyMs, log)
    peers.on('replication', (from, payload) => this.receive(from, payload))
    // Both ends see the link come up; one reconciliation is enough.
    peers.onLinkUp((peer) => {
      if (options.selfId < peer) this.antiEntropy.linkUp(peer)
    })
  }

  /** Sends the awareness of this node's clients of `doc` to every linked peer: best effort, like a client's. */
  broadcastAwareness(doc: string, update: Uint8Array): void {
    const payload = encodeReplicationMessage({ type: 'awareness', name: doc, update })
    for (const peer of this.transport.connectedPeers()) this.transport.send(peer, payload)
  }

  /** Awareness that other nodes' clients sent. */
  onAwareness(listener: (doc: string, update: Uint8Array) => void): void {
    this.awarenessListener = listener
  }

  /**
   * This node's documents as anti-entropy sees them: how many, one fingerprint over all their digests, and
   * how many changed documents still wait for their digest (the fingerprint is current when that is 0).
   */
  summary(): ReplicationSummary {
    return {
      documents: this.index.items.size,
      fingerprint: this.index.items.wholeSetFingerprintHex(),
      staleDigests: this.index.staleCount,
    }
  }

  peerStatus(): PeerReplicationStatus[] {
    const last = this.antiEntropy.lastReconciliations()
    return Object.entries(this.peers.linkStates())
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, link]) => {
        const live = this.fanout.sent.get(id)
        return {
          id,
          link,
          liveUpdatesSent: live?.updates ?? 0,
          liveUpdatesDropped: live?.dropped ?? 0,
          updatesAlreadyHeld: this.exchange.alreadyHeld.get(id) ?? 0,
          lastReconciliation: last.get(id) ?? null,
        }
      })
  }

  close(): void {
    this.antiEntropy.close()
    this.index.close()
    this.fanout.close()
  }

  /** The boundary of every message from a peer; reconciliation messages have one of their own in AntiEntropy. */
  private receive(peer: string, payload: Uint8Array): void {
    try {
      const message = decodeReplicationMessage(payload)
      if (message.type === 'updates') this.exchange.applyFromPeer(peer, message.updates, false)
      else if (message.type === 'awareness') forDoc(message.name, () => this.awarenessListener(message.name, message.update))
      else this.antiEntropy.receive(peer, message, payload.byteLength)
    } catch (err) {
      refuseFromPeer(this.transport, this.log, peer, err)
    }
  }
}
