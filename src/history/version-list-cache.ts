import * as Y from 'yjs'
import { RecentMap } from '../recent-map.js'
import { readVersions, type VersionRecord } from './version-records.js'

/**
 * `readVersions` of each document's history, kept while the history stays as it was: a history document's state
 * (its snapshot: what structs it has and which are deleted) determines its content, so a history read again in
 * the same state needs no second validation of its records — which decodes every version's snapshot. Holds up to
 * `maxDocs` documents, the least recently read forgotten first. The records returned are shared: not to be changed.
 */
export class VersionListCache {
  private readonly byDoc: RecentMap<string, { state: string; versions: readonly VersionRecord[] }>

  constructor(maxDocs = 1024) {
    this.byDoc = new RecentMap(maxDocs)
  }

  versions(name: string, history: Y.Doc): readonly VersionRecord[] {
    const state = Buffer.from(Y.encodeSnapshotV2(Y.snapshot(history))).toString('latin1')
    const cached = this.byDoc.get(name)
    const entry = cached?.state === state ? cached : { state, versions: readVersions(history) }
    this.byDoc.set(name, entry)
    return entry.versions
  }
}
