import type { SnapshotSender } from './snapshot-transfer.js'

/**
 * The leader's view of one follower (etcd's Progress): `match` is the highest index known to be
 * replicated there, `next` the next index to send. In `probe` state the leader sends one append at a
 * time until it finds where the logs agree; in `replicate` it streams up to `maxInflight` appends;
 * in `snapshot` it sends a snapshot in chunks (`snapshotSender`) and no appends until it is installed.
 */
export class Progress {
  state: 'probe' | 'replicate' | 'snapshot' = 'probe'
  /** In probe state: an append was sent and not yet answered. */
  probeSent = false
  /** Last index of each append in flight, oldest first (replicate state). */
  private inflight: number[] = []
  snapshotSender: SnapshotSender | null = null
  /** Heard from since the last check-quorum round. */
  recentActive = true

  constructor(
    public match: number,
    public next: number,
    private readonly maxInflight: number,
  ) {}

  /** In snapshot state: the index of the snapshot being sent; 0 otherwise. */
  get pendingSnapshot(): number {
    return this.snapshotSender?.snapshot.index ?? 0
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent
      case 'replicate':
        return this.inflight.length >= this.maxInflight
      case 'snapshot':
        return true
    }
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot; probe from just after it.
    this.next = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1
    this.reset('probe')
  }

  becomeReplicate(): void {
    this.next = this.match + 1
    this.reset('replicate')
  }

  becomeSnapshot(sender: SnapshotSender): void {
    this.reset('snapshot')
    this.snapshotSender = sender
  }

  /** Records that an append ending at `lastIndex` went out. */
  sent(lastIndex: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1
        this.inflight.push(lastIndex)
      }
    } else if (this.state === 'probe') {
      this.probeSent = true
    }
  }

  /** An acknowledgement up to `index`; returns false when it tells nothing new. */
  maybeUpdate(index: number): boolean {
    let updated = false
    if (this.match < index) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, index + 1)
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift()
    return updated
  }

  /**
   * A rejection of the append whose prevIndex was `rejected`; `hint` is the follower's suggestion.
   * Returns false for a stale rejection that must be ignored.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) return false
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1)
    this.probeSent = false
    return true
  }

  /**
   * A heartbeat answer lets a paused follower get one more append: if appends were lost, the follower
   * rejects it and the leader probes back (a full window would otherwise never drain).
   */
  heardFrom(): void {
    this.recentActive = true
    if (this.state === 'probe') this.probeSent = false
    else if (this.state === 'replicate' && this.isPaused()) this.inflight.shift()
  }

  private reset(state: Progress['state']): void {
    this.state = state
    this.probeSent = false
    this.snapshotSender = null
    this.inflight = []
  }
}
