import type { Logger } from 'pino'
import type { MetaState } from '../meta/state.js'
import type { ChangeLogStorage } from '../storage/change-log.js'
import type { DocStore } from './doc-store.js'
import { CloseCode } from '../protocol/close-codes.js'

export interface ClusterDeletionsDeps {
  selfId: string
  meta(): MetaState
  docs: DocStore
  sync: { closeDoc(name: string, code: number, reason: string): void; hasDoc(name: string): boolean }
  history: { dropDeleted(name: string): Promise<void>; holds(name: string): boolean }
  changes: ChangeLogStorage
}

/**
 * Carries the cluster's deletions (tombstones in the Raft-held metadata) into this node: closes the document's
 * sessions, drops its data and history, and records the deletion in the change feed — also where the document
 * never arrived, once the node is a member (ChangeLogStorage.markRemoved says why).
 */
export class ClusterDeletions {
  constructor(
    private readonly deps: ClusterDeletionsDeps,
    private readonly log: Logger,
  ) {}

  /** A committed deletion, at log index `index`. */
  applied(name: string, index: number): void {
    this.drop(name, index)
  }

  /** This node was added at log index `index`: deletions after it are its own to record. */
  joinedAt(index: number): void {
    this.deps.changes.recordDeletionsAfter(index)
  }

  /**
   * After a snapshot replaced the metadata, or at start: tombstones whose data is still here (a node that was
   * behind, or a crash between a deletion and its removal) or that were committed after the last one recorded.
   */
  catchUp(): void {
    const { tombstones, members } = this.deps.meta()
    const { docs, sync, history, changes } = this.deps
    // A member that has recorded no deletion yet (one that joined by a snapshot, or a data directory from before
    // deletions were recorded) starts after those its metadata holds already.
    if (members.has(this.deps.selfId) && changes.deletionsRecordedAfter() === undefined) {
      let newest = 0
      for (const index of tombstones.values()) newest = Math.max(newest, index)
      changes.recordDeletionsAfter(newest)
    }
    const after = changes.deletionsRecordedAfter() ?? Number.POSITIVE_INFINITY
    const due: [string, number][] = []
    for (const [name, index] of tombstones) {
      if (index > after || docs.meta(name) !== undefined || sync.hasDoc(name) || history.holds(name)) due.push([name, index])
    }
    // In log order: each recorded deletion moves the change log's mark of the last one recorded.
    for (const [name, index] of due.sort((a, b) => a[1] - b[1])) this.drop(name, index)
  }

  private drop(name: string, index: number): void {
    const { docs, sync, history } = this.deps
    sync.closeDoc(name, CloseCode.deleted, 'document deleted')
    docs.delete(name, index).catch((err: unknown) => this.log.error({ err, doc: name }, 'dropping a deleted document failed'))
    history.dropDeleted(name).catch((err: unknown) => this.log.error({ err, doc: name }, "dropping a deleted document's history failed"))
  }
}
