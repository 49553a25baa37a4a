import type { HistoryRetention } from '../meta/state.js'
import type { VersionRecord } from './version-records.js'

/** What a document keeps: a namespace's retention with the node's defaults filled in. */
export interface RetentionPolicy {
  keepVersions: number
  keepDays: number
}

export function retentionFor(namespace: HistoryRetention | undefined, defaults: RetentionPolicy): RetentionPolicy {
  return { keepVersions: namespace?.keepVersions ?? defaults.keepVersions, keepDays: namespace?.keepDays ?? defaults.keepDays }
}

const dayMs = 24 * 60 * 60 * 1000

/**
 * The ids of the versions `policy` drops from `newestFirst` (as readVersions orders them): all past the newest
 * `keepVersions`, and those older than `keepDays`. Every node computes the same from the same versions, so
 * retirements made by several nodes agree once their histories have merged.
 */
export function versionsToRetire(newestFirst: readonly VersionRecord[], policy: RetentionPolicy, nowMs: number): string[] {
  const oldestKeptMs = nowMs - policy.keepDays * dayMs
  return newestFirst.filter((version, at) => at >= policy.keepVersions || version.timeMs < oldestKeptMs).map((version) => version.id)
}
