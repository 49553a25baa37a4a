import type { Logger } from 'pino'
import { DocStore } from '../docs/doc-store.js'
import type { DocStorage } from '../storage/doc-storage.js'
import { createMetrics } from '../metrics.js'
import type { PeerNetwork } from '../peer/peer-network.js'
import { Replication } from '../replication/replication.js'
import { guarded } from '../replication/boundaries.js'
import { AutoVersions, defaultAutoVersionOptions, type AutoVersionOptions } from './auto-versions.js'
import type { RetentionPolicy } from './retention.js'
import { VersionHistory } from './version-history.js'

export interface HistoryOptions extends AutoVersionOptions {
  /** What a document keeps where its namespace does not say. */
  defaults: RetentionPolicy
  /** How often every history is checked for versions past their age. */
  sweepMs: number
}

export const defaultHistoryOptions: HistoryOptions = {
  ...defaultAutoVersionOptions,
  defaults: { keepVersions: 100, keepDays: 30 },
  sweepMs: 60 * 60_000,
}

/**
 * A history gains one update per version made and holds few: compacted often, a retired version's record (its
 * snapshot is most of a history's bytes) is dropped soon after, not thousands of versions later.
 */
const historyStoreOptions = { idleCacheBytes: 8 * 1024 * 1024, compactAfterUpdates: 16, compactAfterBytes: 1024 * 1024 }

export interface HistoryDeps {
  selfId: string
  docs: DocStore
  storage: DocStorage
  peers: PeerNetwork
  antiEntropyMs: number
  isDeleted(name: string): boolean
  isDeparting(peer: string): boolean
  retention(name: string, defaults: RetentionPolicy): RetentionPolicy
}

export interface HistoryService {
  readonly versions: VersionHistory
  /** Drops a deleted document's history. */
  dropDeleted(name: string): Promise<void>
  holds(name: string): boolean
  /** Hands every history this node holds to one of `candidates` (see Replication.handOff): the member, or null. */
  handOff(candidates: readonly string[], timeoutMs: number): Promise<string | null>
  close(): Promise<void>
}

/**
 * Version history: a store of history documents beside the documents, replicated on its own peer channel by the
 * same live fan-out and anti-entropy (so versions made during a partition are everywhere once it heals),
 * automatic versions, and the hourly sweep of versions past their age.
 */
export function startHistory(deps: HistoryDeps, options: HistoryOptions, log: Logger): HistoryService {
  const historyLog = log.child({ part: 'history' })
  // A history is written only by this node's version service and by peers; a deleted document's stays deleted.
  // Metrics on a registry of their own, not exported: history writes must not count as document updates.
  const histories = new DocStore(
    deps.storage,
    createMetrics(),
    historyLog,
    {
      gate: (name) => (deps.isDeleted(name) ? { ok: false, reason: 'deleted', message: 'document deleted' } : { ok: true }),
      isDeleted: deps.isDeleted,
    },
    historyStoreOptions,
  )
  const versions = new VersionHistory(
    { docs: deps.docs, histories, retention: (name) => deps.retention(name, options.defaults), now: Date.now },
    historyLog,
  )
  const replication = new Replication(
    histories,
    deps.peers,
    { selfId: deps.selfId, channel: 'history', antiEntropyMs: deps.antiEntropyMs, isDeleted: deps.isDeleted, isDeparting: deps.isDeparting },
    historyLog,
  )
  const auto = new AutoVersions(deps.docs, versions, options, historyLog)
  let sweeping: Promise<void> | null = null
  const sweep = async () => {
    let after: string | undefined
    for (;;) {
      const page = histories.scan('', after, () => true, { limit: 100, scanLimit: 100 })
      for (const { name } of page.items) await versions.sweep(name)
      if (page.resumeAfter === null) return
      after = page.resumeAfter
    }
  }
  const sweepTimer = setInterval(
    () =>
      guarded(historyLog, 'history sweep', () => {
        sweeping ??= sweep()
          .catch((err: unknown) => historyLog.error({ err }, 'history sweep failed'))
          .finally(() => (sweeping = null))
      }),
    options.sweepMs,
  )
  sweepTimer.unref()

  return {
    versions,
    dropDeleted: (name) => histories.delete(name),
    holds: (name) => histories.meta(name) !== undefined,
    handOff: async (candidates, timeoutMs) => {
      await histories.whenWritten()
      return replication.handOff(candidates, timeoutMs)
    },
    close: async () => {
      clearInterval(sweepTimer)
      auto.close()
      replication.close()
      await sweeping
      await histories.close()
    },
  }
}
