import { Gauge, type Registry } from 'prom-client'
import type { PeerReplicationStatus } from './replication.js'

type PeerGauge = Gauge<'peer'>

/**
 * Per-peer replication state for `/metrics`, read from `status` at every scrape: the same figures as the
 * `peers` of `GET /v1/cluster`.
 */
export function registerReplicationMetrics(registry: Registry, status: () => PeerReplicationStatus[]): void {
  const registers = [registry]
  const perPeer = (name: string, help: string, value: (peer: PeerReplicationStatus) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['peer'] as const,
      registers,
      collect(this: PeerGauge) {
        this.reset()
        for (const peer of status()) {
          const v = value(peer)
          if (v !== undefined) this.set({ peer: peer.id }, v)
        }
      },
    })
  perPeer('syncmesh_peer_link_up', '1 while the peer link is connected', (p) => (p.link.state === 'connected' ? 1 : 0))
  perPeer('syncmesh_peer_link_sent_bytes', 'Payload bytes sent to the peer', (p) => p.link.sentBytes)
  perPeer('syncmesh_peer_link_received_bytes', 'Payload bytes received from the peer', (p) => p.link.receivedBytes)
  perPeer('syncmesh_peer_link_dropped_messages', 'Messages to the peer dropped (no link or full queue)', (p) => p.link.droppedMessages)
  perPeer('syncmesh_peer_live_updates_sent', 'Updates pushed to the peer by live fan-out', (p) => p.liveUpdatesSent)
  perPeer('syncmesh_peer_live_updates_dropped', 'Updates live fan-out could not hand to the peer link', (p) => p.liveUpdatesDropped)
  perPeer('syncmesh_peer_updates_already_held', 'Updates from the peer this node already held and did not store again', (p) =>
    p.updatesAlreadyHeld,
  )
  perPeer('syncmesh_reconciliation_last_timestamp_seconds', 'Start of the latest reconciliation with the peer', (p) =>
    p.lastReconciliation ? p.lastReconciliation.startedAt / 1000 : undefined,
  )
  perPeer('syncmesh_reconciliation_last_differing_docs', 'Documents found to differ in the latest reconciliation', (p) =>
    p.lastReconciliation?.differingDocs,
  )
  perPeer('syncmesh_reconciliation_last_sent_bytes', 'Bytes sent in the latest reconciliation', (p) => p.lastReconciliation?.bytesSent)
  perPeer('syncmesh_reconciliation_last_received_bytes', 'Bytes received in the latest reconciliation', (p) =>
    p.lastReconciliation?.bytesReceived,
  )
}
