import type { HardState, Message, Ready } from './types.js'

export type ReadyWrite = Pick<Ready, 'hardState' | 'entries' | 'snapshot' | 'snapshotReceived'>

/** How to carry out one Ready: the order that keeps Raft safe, as data. RaftDriver and the simulation both follow it. */
export interface ReadyPlan {
  /** May go before the write: a leader's appends, which it persists in parallel with its followers (§10.2.1). */
  sendBeforeWrite: Message[]
  /** To persist durably before `sendAfterWrite` goes out; null when nothing needs writing now. */
  write: ReadyWrite | null
  sendAfterWrite: Message[]
  /**
   * To send once the committed entries are applied and their proposers answered. A Ready that writes nothing
   * but commits entries is, on a leader, the one that tells its followers the new commit index: the answer to
   * the client is what someone waits for, so it goes first. Holding a message back is always safe in Raft.
   */
  sendAfterApply: Message[]
  /** A newer commit index not written yet: it goes with the next write (or on close). */
  unwrittenCommit: HardState | null
}

/**
 * Plans a Ready, given the hard state last written and a commit index still unwritten. A Ready that only
 * moves the commit index writes nothing: the new index is written with the next Ready that writes anything.
 * Raft needs no durable commit index — a restarted node learns it again from the leader — and a flush for
 * every Raft commit, on every node, would double the disk work of each write. Not so when a membership change
 * is committed: a node restarted with an older commit index would start with the configuration before it, so
 * that one is written at once.
 */
export function planReady(ready: Ready, stored: HardState, unwrittenCommit: HardState | null): ReadyPlan {
  const nothingToWrite = !ready.hardState && ready.entries.length === 0 && !ready.snapshot
  if (onlyMovesCommit(ready, stored) || nothingToWrite) {
    const afterApply = ready.committed.length > 0
    return {
      sendBeforeWrite: afterApply ? [] : ready.messages,
      write: null,
      sendAfterWrite: [],
      sendAfterApply: afterApply ? ready.messages : [],
      unwrittenCommit: nothingToWrite ? unwrittenCommit : ready.hardState,
    }
  }
  const { entries, snapshot, snapshotReceived } = ready
  return {
    sendBeforeWrite: ready.messagesFirst ? ready.messages : [],
    write: { hardState: ready.hardState ?? unwrittenCommit, entries, snapshot, snapshotReceived },
    sendAfterWrite: ready.messagesFirst ? [] : ready.messages,
    sendAfterApply: [],
    unwrittenCommit: null,
  }
}

function onlyMovesCommit(ready: Ready, stored: HardState): boolean {
  return (
    ready.hardState !== null &&
    ready.entries.length === 0 &&
    ready.snapshot === null &&
    ready.hardState.term === stored.term &&
    ready.hardState.vote === stored.vote &&
    !ready.committed.some((entry) => entry.change)
  )
}
