import * as Y from 'yjs'
import type { DeleteSet } from '../protocol/delete-set.js'
import { RecentMap } from '../recent-map.js'
import { shownBy, unionOf } from '../docs/compacted-base.js'
import { decodeVersionSnapshot, type VersionRecord } from './version-records.js'

interface Shown {
  /** The versions whose content `shown` holds; some may have been retired since. */
  covered: ReadonlySet<string>
  shown: DeleteSet
}

/**
 * Per document, the ids its retained versions show — what compaction keeps — carried from one compaction to the
 * next, so that each merges only the versions made since rather than all of them. A retired version's content is
 * kept on (keeping more than needed is safe, less never is) until more than an eighth of the versions covered
 * are retired, and then the set is computed again from the retained ones. Holds up to `maxDocs` documents, the
 * least recently compacted forgotten first.
 */
export class RetainedContent {
  private readonly byDoc: RecentMap<string, Shown>

  constructor(maxDocs = 1024) {
    this.byDoc = new RecentMap(maxDocs)
  }

  of(name: string, versions: readonly VersionRecord[]): DeleteSet {
    if (versions.length === 0) {
      this.byDoc.delete(name)
      return Y.createDeleteSet()
    }
    const retained = new Set(versions.map((version) => version.id))
    const cached = this.byDoc.get(name)
    let next: Shown
    if (!cached || retiredFrom(cached, retained) > cached.covered.size / 8) {
      next = { covered: retained, shown: shownBy(versions.map(decodeVersionSnapshot)) }
    } else {
      const fresh = versions.filter((version) => !cached.covered.has(version.id))
      next =
        fresh.length === 0
          ? cached
          : { covered: new Set([...cached.covered, ...retained]), shown: unionOf(cached.shown, shownBy(fresh.map(decodeVersionSnapshot))) }
    }
    this.byDoc.set(name, next)
    return next.shown
  }
}

function retiredFrom(cached: Shown, retained: ReadonlySet<string>): number {
  let retired = 0
  for (const id of cached.covered) if (!retained.has(id)) retired++
  return retired
}

