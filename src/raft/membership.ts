import type { ClusterConfig, ConfChange, NodeId } from './types.js'

/**
 * Who votes and who only replicates, and how a membership change moves them: the set half of a change.
 * What a leader does about a change (progress, stepping down) stays in RaftCore.
 */
export class Membership {
  readonly voters: Set<NodeId>
  readonly replicas: Set<NodeId>

  constructor(config: ClusterConfig) {
    this.voters = new Set(config.voters)
    this.replicas = new Set(config.replicas)
  }

  /** A change that makes sense now: it names a member in the role it leaves, and leaves at least one voter. */
  isValid(change: ConfChange): boolean {
    const isVoter = this.voters.has(change.id)
    const isReplica = this.replicas.has(change.id)
    switch (change.op) {
      case 'add-replica':
        return !isVoter && !isReplica
      case 'promote':
        return isReplica
      case 'demote':
        return isVoter && this.voters.size > 1
      case 'remove':
        return isReplica || (isVoter && this.voters.size > 1)
    }
  }

  /** Applies a committed change; one that no longer fits (applied again from the log) changes nothing. */
  apply(change: ConfChange): void {
    const { id } = change
    switch (change.op) {
      case 'add-replica':
        if (!this.voters.has(id)) this.replicas.add(id)
        break
      case 'promote':
        if (this.replicas.delete(id)) this.voters.add(id)
        break
      case 'demote':
        if (this.voters.delete(id)) this.replicas.add(id)
        break
      case 'remove':
        this.voters.delete(id)
        this.replicas.delete(id)
        break
    }
  }

  /** Voters, then replicas. */
  all(): NodeId[] {
    return [...this.voters, ...this.replicas]
  }

  includes(id: NodeId): boolean {
    return this.voters.has(id) || this.replicas.has(id)
  }

  config(): ClusterConfig {
    return { voters: [...this.voters].sort(), replicas: [...this.replicas].sort() }
  }
}
