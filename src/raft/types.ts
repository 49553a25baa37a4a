/** Types shared by the Raft core, its log and its drivers. Everything here is plain data. */

import type { Progress } from './progress.js'

export type NodeId = string

/** A membership change; Raft admits one at a time, and each moves at most one voter. */
export type ConfChange =
  | { op: 'add-replica'; id: NodeId }
  | { op: 'promote'; id: NodeId }
  | { op: 'demote'; id: NodeId }
  | { op: 'remove'; id: NodeId }

/** Voters decide elections and commitment; replicas (learners) only follow the log. */
export interface ClusterConfig {
  voters: NodeId[]
  replicas: NodeId[]
}

/**
 * One log entry. `data` is the application's command (null for the empty entry a new leader appends);
 * a membership entry also carries `change`, which the core applies when the entry is applied.
 */
export interface Entry {
  index: number
  term: number
  data: unknown
  change?: ConfChange
}

/** What must survive a restart besides the log: persisted before any message of the same Ready is sent. */
export interface HardState {
  term: number
  vote: NodeId | null
  commit: number
}

/** Which log prefix a snapshot covers, and the configuration after it. */
export interface SnapshotMeta {
  index: number
  term: number
  config: ClusterConfig
}

/** A compacted prefix of the log: the application state after entry `index` (as bytes), and the config then. */
export interface Snapshot extends SnapshotMeta {
  data: Uint8Array
}

export const Role = {
  follower: 'follower',
  preCandidate: 'pre-candidate',
  candidate: 'candidate',
  leader: 'leader',
} as const
export type Role = (typeof Role)[keyof typeof Role]

interface Envelope {
  from: NodeId
  to: NodeId
  term: number
}

export type Message = Envelope &
  (
    | { type: 'pre-vote'; lastIndex: number; lastTerm: number }
    | { type: 'pre-vote-resp'; reject: boolean }
    | { type: 'vote'; lastIndex: number; lastTerm: number; transfer: boolean }
    | { type: 'vote-resp'; reject: boolean }
    | { type: 'append'; prevIndex: number; prevTerm: number; entries: Entry[]; commit: number }
    /** `index`: the follower's last matching index, or on reject the rejected prevIndex with a `hint`. */
    | { type: 'append-resp'; index: number; reject: boolean; hint: number }
    | { type: 'heartbeat'; commit: number; readCtx: string | null }
    | { type: 'heartbeat-resp'; readCtx: string | null }
    /**
     * Bytes [offset, offset + data.length) of a snapshot's data, `totalBytes` long in all; the chunk that
     * reaches `totalBytes` completes it. A leader sends one snapshot per follower at a time.
     */
    | { type: 'snapshot-chunk'; snapshot: SnapshotMeta; totalBytes: number; offset: number; data: Uint8Array }
    /**
     * The follower holds the first `offset` bytes of snapshot `index`. `reject`: a chunk came past that
     * offset (one was lost, or the follower restarted) and the leader should resend from there.
     */
    | { type: 'snapshot-ack'; index: number; offset: number; reject: boolean }
    | { type: 'timeout-now' }
  )

export type MessageType = Message['type']

/** A linearizable read may be served once the state machine has applied `index`. */
export interface ReadState {
  ctx: string
  index: number
}

/**
 * What the driver must do, in this order: persist `hardState`, `snapshot` and `entries` (an entry
 * overwrites any stored entry at its index and every one after it) durably; then send `messages`;
 * then restore the state machine from `snapshot` if `snapshotReceived`, and apply `committed` in order.
 * The driver handles one Ready at a time: the next one is taken only once this one is persisted.
 */
export interface Ready {
  hardState: HardState | null
  entries: Entry[]
  snapshot: Snapshot | null
  snapshotReceived: boolean
  messages: Message[]
  /**
   * The messages may be sent before (or while) the rest is persisted: they are a leader's, its term and
   * vote are already durable, and the commit index they carry covers only entries already durable here.
   * A leader writing its own entries in parallel with its followers is safe (Raft thesis §10.2.1) because
   * it counts them towards a commit only in a later Ready, which the driver takes after this one is durable.
   */
  messagesFirst: boolean
  committed: Entry[]
  readStates: ReadState[]
  /** ReadIndex requests this node accepted but can no longer answer (it lost leadership). */
  readsDropped: string[]
  /** Snapshots this follower refused, each once, as larger than it may assemble: it cannot catch up from them. */
  snapshotsRefused: SnapshotRefusal[]
}

export interface SnapshotRefusal {
  /** The leader that sent it. */
  from: NodeId
  index: number
  totalBytes: number
  maxSnapshotBytes: number
}

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | {
      ok: false
      reason: 'not-leader' | 'transferring' | 'conf-change-pending' | 'invalid' | 'removed'
      leader: NodeId | null
    }

/** What the driver loaded from storage. A node that has never run has no snapshot and no entries. */
export interface StoredState {
  hardState: HardState
  snapshot: Snapshot | null
  entries: Entry[]
}

export interface RaftStatus {
  id: NodeId
  role: Role
  term: number
  leader: NodeId | null
  commit: number
  applied: number
  lastIndex: number
  config: ClusterConfig
  removed: boolean
  /** Leader only: how far each follower is known to be, and how the leader is feeding it. */
  followers: Record<NodeId, { match: number; next: number; state: Progress['state'] }>
}
