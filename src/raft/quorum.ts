import type { NodeId } from './types.js'

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1
}

/** The highest index that a majority of voters have matched. */
export function quorumMatchIndex(voters: Iterable<NodeId>, matchOf: (id: NodeId) => number): number {
  const matches = [...voters].map(matchOf).sort((a, b) => b - a)
  return matches[quorumSize(matches.length) - 1] ?? 0
}

export type VoteTally = 'won' | 'lost' | 'pending'

/** Counts only the votes of current voters. */
export function tallyVotes(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteTally {
  let granted = 0
  let rejected = 0
  for (const [id, vote] of votes) {
    if (!voters.has(id)) continue
    if (vote) granted++
    else rejected++
  }
  const needed = quorumSize(voters.size)
  if (granted >= needed) return 'won'
  if (rejected > voters.size - needed) return 'lost'
  return 'pending'
}
