import { applyCommand } from '../meta/apply.js'
import { parseCommand, type CommandResult, type MetaCommand } from '../meta/commands.js'
import type { MetaState } from '../meta/state.js'
import type { ConfChange } from '../raft/types.js'

/** A metadata write as a caller makes it; the request id is the control plane's to form. */
export type CommandInput = MetaCommand extends infer C ? (C extends MetaCommand ? Omit<C, 'requestId'> : never) : never

export type ProposalPlan =
  | { propose: true; command: MetaCommand; change: ConfChange | undefined }
  | { propose: false; result: CommandResult }

export function confChangeOf(command: MetaCommand): ConfChange | undefined {
  switch (command.type) {
    case 'add-member':
      return { op: 'add-replica', id: command.id }
    case 'promote':
      return { op: 'promote', id: command.id }
    case 'demote':
      return { op: 'demote', id: command.id }
    case 'remove-member':
      return { op: 'remove', id: command.id }
    default:
      return undefined
  }
}

/**
 * What the leader does with a write, decided from its applied metadata before each attempt to propose it.
 *
 * Raft applies a committed membership change whatever the metadata makes of its entry, so an entry that
 * carries one must be one the metadata applies too: a valid command (every state machine refuses an invalid
 * one), not a request already answered (the metadata would skip it as a retry), nothing the metadata
 * refuses. The leader's applied state is the state such an entry meets when it commits, as far as a membership
 * command can tell: Raft admits a membership change only once every earlier membership change is applied;
 * ordinary commands before it may not be, but none changes whether a membership command applies (a member's
 * key only turns one refusal of add-member into another) — except through request ids, so these are scoped
 * by the command's type: a key reused for another kind of write cannot make a membership change look like a
 * retry.
 */
export function planProposal(state: MetaState, input: CommandInput, requestKey: string): ProposalPlan {
  const parsed = parseCommand({ ...input, requestId: `${input.type}:${requestKey}` })
  if (!parsed.ok) return { propose: false, result: parsed }
  const { command } = parsed
  const earlier = state.recentResults.get(command.requestId)
  if (earlier) return { propose: false, result: earlier }
  const change = confChangeOf(command)
  if (change) {
    const refusal = dryRun(state, command)
    if (refusal) return { propose: false, result: refusal }
  }
  return { propose: true, command, change }
}

/**
 * Tries a membership command on a copy of what it touches (members, removed ids, remembered results; members
 * are replaced, never changed in place): a copy of the whole metadata, tombstones included, would cost seconds
 * of the leader's event loop in a cluster with many deletions.
 */
function dryRun(state: MetaState, command: MetaCommand): CommandResult | null {
  const copy: MetaState = {
    ...state,
    members: new Map(state.members),
    removedMembers: new Set(state.removedMembers),
    recentResults: new Map(state.recentResults),
  }
  const result = applyCommand(copy, command, { index: 0, term: 0 })
  return result.ok ? null : result
}
