import type { UpdateGate } from '../docs/doc-store.js'
import { checkUpdateAgainstPolicy, wouldExceedDocLimit } from '../docs/schema-check.js'
import { isDeleted, policyFor } from '../meta/queries.js'
import type { MetaStateMachine } from '../meta/state-machine.js'

/** What the committed metadata allows to be written: nothing to a deleted document, and what its namespace permits. */
export function metadataGate(meta: MetaStateMachine): UpdateGate {
  return (name, update, storedBytes) => {
    const state = meta.state
    if (isDeleted(state, name)) return { ok: false, reason: 'deleted', message: 'document deleted' }
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
