import type { DocPolicy } from '../docs/schema-check.js'
import type { CommandResult } from './commands.js'

export const memberRoles = ['voter', 'replica'] as const
export type MemberRole = (typeof memberRoles)[number]

export interface Member {
  readonly id: string
  readonly url: string
  readonly role: MemberRole
  /**
   * The member's node key (see peer/node-identity.ts), which its peer handshakes must prove. Absent for a
   * member that joined before node keys, until the leader records the key it proves (set-member-key).
   */
  readonly publicKey?: string
}

export interface Namespace extends DocPolicy {
  readonly name: string
  /** Its documents may be read without a client token, where the node requires client tokens. */
  readonly publicRead: boolean
  /** Version retention of its documents; absent parts fall back to the node's flags. */
  readonly history?: HistoryRetention
}

export interface HistoryRetention {
  readonly keepVersions?: number
  readonly keepDays?: number
}

export const webhookEvents = ['updated', 'deleted'] as const
export type WebhookEvent = (typeof webhookEvents)[number]

/** Where the cluster sends the change-feed events of some documents, signed as Standard Webhooks asks. */
export interface Webhook {
  readonly id: string
  readonly url: string
  readonly events: readonly WebhookEvent[]
  /** Only documents whose name starts with this. */
  readonly prefix: string
  /** `whsec_` and the base64 of the signing key; every node holds it, so that any can deliver. */
  readonly secret: string
  /**
   * When it was registered (epoch ms, by the clock of the node that took the registration): each node sends it
   * the changes it recorded from then on. Absent for webhooks registered before deliveries were built.
   */
  readonly createdAtMs?: number
}

/** Webhooks one cluster holds at most: each is watched by a node and signs every delivery. */
export const maxWebhooks = 100

export const defaultVoterTarget = 3

/** Results kept for deduplication; past this, the oldest request is forgotten first. */
export const maxRememberedRequests = 10_000

/**
 * The cluster's metadata, as every member holds it after applying the same log.
 *
 * Owned by one state machine and changed in place by `applyCommand`: copying it per command would make
 * each apply cost as much as the whole state, and the request memory alone holds 10,000 entries.
 * Values (members, namespaces, results) are never changed, only replaced. Snapshots are bytes (`codec.ts`).
 */
export interface MetaState {
  voterTarget: number
  readonly members: Map<string, Member>
  readonly namespaces: Map<string, Namespace>
  /**
   * Deleted document name → Raft index of its deletion. Permanent: a replica that missed the deletion
   * would otherwise bring the document back through anti-entropy, so a deleted name is never written again.
   */
  readonly tombstones: Map<string, number>
  /**
   * Ids of removed members. A removed node stops for good (its Raft core ignores everything), so an id is
   * never admitted again: a node comes back with a new id and an empty data directory.
   */
  readonly removedMembers: Set<string>
  /** Request id → its result, oldest first (Map order is insertion order, and the snapshot keeps it). */
  readonly recentResults: Map<string, CommandResult>
  readonly webhooks: Map<string, Webhook>
}

export function emptyMetaState(): MetaState {
  return {
    voterTarget: defaultVoterTarget,
    members: new Map(),
    namespaces: new Map(),
    tombstones: new Map(),
    removedMembers: new Set(),
    recentResults: new Map(),
    webhooks: new Map(),
  }
}
