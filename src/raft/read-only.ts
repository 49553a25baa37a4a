import type { NodeId, ReadState } from './types.js'

interface PendingRead {
  index: number
  acks: Set<NodeId>
}

/**
 * The leader's ReadIndex requests (§6.4): each remembers the commit index at the time it arrived and
 * becomes a ReadState once a quorum of voters has acknowledged a heartbeat sent after it. Acks for a
 * later request confirm every earlier one too, so requests are released in arrival order.
 */
export class ReadOnlyQueue {
  private readonly pending = new Map<string, PendingRead>()
  private readonly order: string[] = []

  add(ctx: string, index: number, self: NodeId): void {
    if (this.pending.has(ctx)) return
    this.pending.set(ctx, { index, acks: new Set([self]) })
    this.order.push(ctx)
  }

  /** Records an ack; returns the reads that are confirmed now, oldest first. */
  ack(ctx: string, from: NodeId, isConfirmed: (acks: ReadonlySet<NodeId>) => boolean): ReadState[] {
    const read = this.pending.get(ctx)
    if (!read) return []
    read.acks.add(from)
    if (!isConfirmed(read.acks)) return []
    const upTo = this.order.indexOf(ctx)
    const released = this.order.splice(0, upTo + 1)
    return released.map((c) => {
      const r = this.pending.get(c)!
      this.pending.delete(c)
      return { ctx: c, index: r.index }
    })
  }

  /** Empties the queue, returning the contexts that will never be answered here. */
  drain(): string[] {
    const dropped = [...this.order]
    this.order.length = 0
    this.pending.clear()
    return dropped
  }
}
