import { membersWithRole } from './queries.js'
import type { MetaState } from './state.js'

/** One role change; the leader's driver proposes it as a `promote` or `demote` command. */
export interface MembershipChange {
  readonly type: 'promote' | 'demote'
  readonly id: string
}

/**
 * The next single role change that moves the voters towards the cluster's target, or null if none is due.
 * Raft changes membership one server at a time, so the leader's driver asks again after each change commits.
 *
 * - Too few voters (after a voter was removed, at bootstrap, or on a raised target): promote a replica that
 *   has caught up with the log, so the new voter does not hold commits back.
 * - Too many voters (on a lowered target): demote one, never the leader, lagging ones first.
 */
export function nextMembershipChange(
  state: MetaState,
  leaderId: string,
  caughtUp: (id: string) => boolean,
): MembershipChange | null {
  const voters = membersWithRole(state, 'voter')
  if (voters.length < state.voterTarget) {
    const ready = membersWithRole(state, 'replica').find((replica) => caughtUp(replica.id))
    return ready ? { type: 'promote', id: ready.id } : null
  }
  if (voters.length > state.voterTarget) {
    const candidates = voters.filter((voter) => voter.id !== leaderId)
    const chosen = candidates.find((voter) => !caughtUp(voter.id)) ?? candidates[0]
    return chosen ? { type: 'demote', id: chosen.id } : null
  }
  return null
}
