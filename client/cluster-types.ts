/** What `GET /v1/cluster` answers (see the README, A cluster and Replication between nodes). */
export interface ClusterOverview {
  /** The node that answered. */
  id: string
  leader: string | null
  term: number
  commitIndex: number
  members: { id: string; url: string; role: 'voter' | 'replica' | string }[]
  /** This node's documents as anti-entropy sees them. */
  replication: { documents: number; fingerprint: string; staleDigests: number }
  peers: PeerOverview[]
}

export interface PeerOverview {
  id: string
  link: { state: string; sentBytes: number; receivedBytes: number; droppedMessages: number }
  liveUpdatesSent: number
  liveUpdatesDropped: number
  updatesAlreadyHeld: number
  lastReconciliation: { startedAt: number; differingDocs: number; bytesSent: number; bytesReceived: number } | null
}
