import type { NodeId } from './types.js'

export interface RaftOptions {
  id: NodeId
  /** A follower that hears no leader for a random time in [this, 2 × this) ticks starts an election. */
  electionTimeoutTicks: number
  heartbeatTicks: number
  preVote: boolean
  /** A leader that has not heard from a quorum within an election timeout steps down. */
  checkQuorum: boolean
  maxEntriesPerAppend: number
  /** Appends in flight to one follower before the leader waits for acknowledgements. */
  maxInflight: number
  /** Snapshots go in chunks of this size: well below the transport's largest frame. */
  snapshotChunkBytes: number
  /** Snapshot chunks sent to one follower and not yet acknowledged. */
  maxSnapshotChunksInflight: number
  /** A follower refuses a snapshot larger than this (it assembles one in memory). */
  maxSnapshotBytes: number
  /** Uniform in [0, 1); injected so that runs are reproducible. */
  random: () => number
}

export const defaultRaftOptions = {
  electionTimeoutTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  maxEntriesPerAppend: 256,
  maxInflight: 64,
  snapshotChunkBytes: 1024 * 1024,
  maxSnapshotChunksInflight: 4,
  maxSnapshotBytes: 512 * 1024 * 1024,
} as const
