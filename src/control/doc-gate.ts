import type { UpdateGate } from '../docs/doc-store.js'
import { checkUpdateAgainstPolicy, wouldExceedDocLimit } from '../docs/schema-check.js'
import { isDeleted, policyFor } from '../meta/queries.js'
import type { MetaStateMachine } from '../meta/state-machine.js'

/** The close reason and REST message a removed node answers its clients with. */
export const removedMessage = 'node removed from cluster'

/**
 * What the committed metadata allows to be written: nothing to a deleted document, and what its namespace
 * permits. A namespace's schema, limits and read-only flag are checked where a client writes; an update from
 * a peer passes them, because the node that accepted it from its client was the authority on that (with the
 * metadata it had then), and every replica must end with the same state. Only a tombstone stops it.
 * Once this node is removed from the cluster, its clients' writes are refused: no member would receive them.
 */
export function metadataGate(
  meta: MetaStateMachine,
  isRemoved: () => boolean,
  isFromPeer: (origin: unknown) => boolean,
): UpdateGate {
  return (name, update, storedBytes, origin) => {
    const state = meta.state
    if (isDeleted(state, name)) return { ok: false, reason: 'deleted', message: 'document deleted' }
    if (isFromPeer(origin)) return { ok: true }
    if (isRemoved()) return { ok: false, reason: 'not_a_member', message: removedMessage }
    const policy = policyFor(state, name)
    if (!policy) return { ok: true }
    const check = checkUpdateAgainstPolicy(policy, update)
    if (!check.ok) return check
    if (policy.limits.maxDocBytes !== undefined && wouldExceedDocLimit(storedBytes(), update.byteLength, policy.limits)) {
      const message = `the document would pass its namespace's limit of ${policy.limits.maxDocBytes} bytes`
      return { ok: false, reason: 'doc_too_large', message }
    }
    return { ok: true }
  }
}
