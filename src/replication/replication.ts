import type { Logger } from 'pino'
import type { DocStore } from '../docs/doc-store.js'
import type { PeerNetwork } from '../peer/peer-network.js'
import type { LinkState } from '../peer/link-state.js'
import type { PeerChannelName } from '../protocol/peer-frames.js'
import {
  MalformedReplicationMessageError,
  decodeReplicationMessage,
  encodeReplicationMessage,
} from '../protocol/replication-codec.js'
import { AntiEntropy, defaultSessionWork, type ReconciliationStats } from './anti-entropy.js'
import { forDoc, refuseFromPeer } from './boundaries.js'
import { ChunkedTransport, defaultTransferTuning, type TransferTuning } from './chunked-transport.js'
import { DigestIndex } from './digest-index.js'
import { DocExchange } from './doc-exchange.js'
import { HandOffChecks } from './hand-off.js'
import { LiveFanout } from './live-fanout.js'
import type { TurnQueueLimits } from './turn-queue.js'

export interface ReplicationOptions {
  selfId: string
  /** The peer channel it speaks on: documents on `replication`, their version histories on `history`. */
  channel: Extract<PeerChannelName, 'replication' | 'history'>
  antiEntropyMs: number
  /** Whether the committed metadata holds a tombstone for the document. */
  isDeleted(name: string): boolean
  /** Whether the peer is a member removed within its hand-off window: only such a peer's hold-checks are answered. */
  isDeparting(peer: string): boolean
  /** Chunking of messages larger than a frame; tests shrink it. */
  transfers?: Partial<TransferTuning>
  /** Reconciliation work per turn of the event loop, and what may wait for it; tests shrink it. */
  sessionWork?: Partial<TurnQueueLimits>
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

/**
 * How long handOff waits for one reconciliation to find both sides equal before it starts another: a session that
 * found differences exchanges them meanwhile, and the next one (reconcileWith waits until it is done) checks.
 */
const handOffRoundMs = 1_500

/** Replicas of every document across the cluster: live fan-out plus anti-entropy, over the peer link. */
export class Replication {
  private readonly index: DigestIndex
  private readonly fanout: LiveFanout
  private readonly antiEntropy: AntiEntropy
  private readonly exchange: DocExchange
  private readonly handOffs: HandOffChecks
  private readonly transport: ChunkedTransport
  private awarenessListener: (doc: string, update: Uint8Array) => void = () => {}
  private closed = false

  constructor(
    docs: DocStore,
    private readonly peers: PeerNetwork,
    options: ReplicationOptions,
    private readonly log: Logger,
  ) {
    const { channel } = options
    const link = {
      send: (peer: string, payload: Uint8Array) => peers.send(peer, channel, payload),
      connectedPeers: () => peers.connectedPeers(),
      refuse: (peer: string, reason: string) => peers.refuseMessage(peer, channel, reason),
      queuedBytes: (peer: string) => peers.queuedBytes(peer),
    }
    const transport = new ChunkedTransport(link, { ...defaultTransferTuning, ...options.transfers }, log)
    this.transport = transport
    this.index = new DigestIndex(docs, log)
    this.fanout = new LiveFanout(docs, transport, log)
    this.exchange = new DocExchange(docs, options.isDeleted, log)
    this.handOffs = new HandOffChecks(docs, options, transport, log)
    const sessionWork = { ...defaultSessionWork, ...options.sessionWork }
    this.antiEntropy = new AntiEntropy(this.index, this.exchange, transport, options.antiEntropyMs, sessionWork, log)
    peers.on(channel, (from, payload) => this.receive(from, payload))
    peers.onLinkDown((peer) => transport.linkDown(peer))
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

  /**
   * Hands what this node holds to one of `candidates`, trying each linked one in turn: done with a peer once a
   * reconciliation finds it holding the same documents at the same digests (quick, when nothing is written
   * meanwhile), or once it answers hold-checks of every document saying it holds at least as much (see
   * HandOffChecks: what the rest of the cluster writes meanwhile cannot prevent that). Resolves with that peer,
   * or null if none did within `timeoutMs`. This node must take no more writes of its own, and updates it
   * accepted before must be durable first (DocStore.whenWritten).
   */
  async handOff(candidates: readonly string[], timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs
    while (!this.closed && Date.now() < deadline) {
      const linked = candidates.filter((peer) => this.transport.connectedPeers().includes(peer))
      for (const peer of linked) {
        if (await this.antiEntropy.whenIdenticalWith(peer, handOffRoundMs)) return peer
        if (await this.handOffs.handedTo(peer, deadline)) return peer
      }
      if (linked.length === 0) await new Promise((resolve) => setTimeout(resolve, handOffRoundMs))
    }
    return null
  }

  close(): void {
    this.closed = true
    this.handOffs.close()
    this.antiEntropy.close()
    this.index.close()
    this.fanout.close()
    this.transport.close()
  }

  /** The boundary of every message from a peer; reconciliation messages have one of their own in AntiEntropy. */
  private receive(peer: string, framed: Uint8Array): void {
    try {
      let payload = framed
      let message = decodeReplicationMessage(payload)
      if (message.type === 'chunk') {
        const whole = this.transport.receiveChunk(peer, message)
        if (!whole) return
        payload = whole
        message = decodeReplicationMessage(payload)
        if (message.type === 'chunk') throw new MalformedReplicationMessageError('a chunk inside a chunked message')
      }
      if (message.type === 'updates') this.exchange.applyFromPeer(peer, message.updates, false)
      else if (message.type === 'awareness') forDoc(message.name, () => this.awarenessListener(message.name, message.update))
      else if (message.type === 'hold-check' || message.type === 'hold-answer') this.handOffs.receive(peer, message)
      else this.antiEntropy.receive(peer, message, payload.byteLength)
    } catch (err) {
      refuseFromPeer(this.transport, this.log, peer, err)
    }
  }
}
