import * as Y from 'yjs'
import type { StoredChange } from '../storage/change-log.js'

/**
 * What some node has delivered of one document to one webhook: every client's updates up to the clock in
 * `stateVector` were in a delivered (or finally failed) event, and whether its deletion was.
 */
export interface DeliveredState {
  stateVector: Uint8Array
  deleted: boolean
}

export const nothingDelivered: DeliveredState = { stateVector: Y.encodeStateVector(new Map()), deleted: false }

/** What delivering `change` adds to `delivered`. */
export function withDelivered(delivered: DeliveredState, change: Pick<StoredChange, 'type' | 'stateVector'>): DeliveredState {
  if (change.type === 'deleted') return { ...delivered, deleted: true }
  return change.stateVector ? merged(delivered, { stateVector: change.stateVector, deleted: false }) : delivered
}

/** Both deliveries' content: the higher clock of every client, deleted if either is. */
export function merged(a: DeliveredState, b: DeliveredState): DeliveredState {
  const clocks = Y.decodeStateVector(a.stateVector)
  for (const [client, clock] of Y.decodeStateVector(b.stateVector)) {
    if (clock > (clocks.get(client) ?? 0)) clocks.set(client, clock)
  }
  return { stateVector: Y.encodeStateVector(clocks), deleted: a.deleted || b.deleted }
}

/**
 * Whether an event for `change` would tell the webhook nothing that `delivered` has not: a state whose every
 * update was in a delivered event, or anything once the deletion was delivered (a deleted document never comes
 * back, and its older states are news to nobody — least to the node that sends, which may never have held them).
 * Such an event need not be sent again.
 */
export function covers(delivered: DeliveredState, change: Pick<StoredChange, 'type' | 'stateVector'>): boolean {
  if (delivered.deleted) return true
  if (change.type === 'deleted') return false
  if (!change.stateVector) return false
  const clocks = Y.decodeStateVector(delivered.stateVector)
  for (const [client, clock] of Y.decodeStateVector(change.stateVector)) {
    if (clock > (clocks.get(client) ?? 0)) return false
  }
  return true
}
