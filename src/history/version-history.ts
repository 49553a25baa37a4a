import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { ApplyResult, DocStore } from '../docs/doc-store.js'
import type { RootKind } from '../docs/doc-json.js'
import { editedBy } from '../docs/edited-by.js'
import { holdsVersion, restoreUpdate, versionDoc } from './version-content.js'
import {
  decodeVersionSnapshot,
  encodeVersionSnapshot,
  historyUpdate,
  newVersionId,
  type VersionRecord,
} from './version-records.js'
import { versionsToRetire, type RetentionPolicy } from './retention.js'
import { RetainedContent } from './retained-content.js'
import { VersionListCache } from './version-list-cache.js'
import { shownBy, unionOf } from '../docs/compacted-base.js'
import type { DeleteSet } from '../protocol/delete-set.js'

/** Why a version could not be made, read or restored; each maps to one HTTP status (see version-routes.ts). */
export type HistoryRefusal =
  | { ok: false; reason: 'doc_not_found' | 'version_not_found' | 'history_disabled' | 'version_incomplete'; message: string }
  | Extract<ApplyResult, { ok: false }>

export type HistoryResult<T> = { ok: true; value: T } | HistoryRefusal

export interface VersionHistoryDeps {
  docs: DocStore
  /** The version histories, one document each (see version-records.ts). */
  histories: DocStore
  retention(name: string): RetentionPolicy
  now(): number
}

/** Who asks for a version: its label and the token subject; `auto` for one the node makes itself. */
export type VersionRequest = Pick<VersionRecord, 'kind' | 'label' | 'by' | 'editors'>

const docNotFound = (name: string): HistoryRefusal => ({ ok: false, reason: 'doc_not_found', message: `no document named ${JSON.stringify(name)}` })

/**
 * The versions of every document: made (on request or automatically), listed, read, compared and restored. A
 * version's content comes from the document itself (see version-content.ts); its record from its history.
 */
export class VersionHistory {
  private readonly retained = new RetainedContent()
  private readonly lists = new VersionListCache()
  /** Snapshots of versions on their way into a history: compaction keeps their content too. */
  private readonly unwritten = new Map<string, Set<Y.Snapshot>>()

  constructor(
    private readonly deps: VersionHistoryDeps,
    private readonly log: Logger,
  ) {}

  /** The document's versions, newest first; empty for one without history. */
  list(name: string): readonly VersionRecord[] {
    return this.withHistory(name, (_, versions) => versions)
  }

  /** The ids of content compaction of the document must keep: what its retained versions, and those being made, show. */
  retainedContent(name: string): DeleteSet {
    const shown = this.retained.of(name, this.list(name))
    const unwritten = this.unwritten.get(name)
    return unwritten ? unionOf(shown, shownBy([...unwritten])) : shown
  }

  /**
   * Makes a version of the document as it is durably now, and retires what the retention policy drops. An
   * automatic version of a state the newest version already shows is not made: resolves null then.
   */
  async create(name: string, request: VersionRequest): Promise<HistoryResult<VersionRecord | null>> {
    const snapshot = this.deps.docs.peek(name, encodeVersionSnapshot)
    return snapshot ? this.record(name, request, snapshot) : docNotFound(name)
  }

  /** Retires the versions the retention policy drops now (by age, or by a lowered count); resolves how many. */
  async sweep(name: string): Promise<number> {
    const change = this.withHistory(name, (history, versions) => {
      const retire = versionsToRetire(versions, this.deps.retention(name), this.deps.now())
      return retire.length > 0 ? { update: historyUpdate(history, null, retire), retired: retire.length } : null
    })
    if (!change) return 0
    const written = await this.write(name, change.update)
    if (!written.ok && written.reason !== 'deleted') this.log.warn({ doc: name, reason: written.reason }, 'retiring versions failed')
    return written.ok ? change.retired : 0
  }

  /** Runs `read` on the version's content, in a Y.Doc of its own. */
  read<T>(name: string, id: string, read: (version: Y.Doc) => T): HistoryResult<T> {
    return this.compare(name, [id], (doc, [snapshot]) => {
      const version = versionDoc(doc, snapshot!)
      try {
        return read(version)
      } finally {
        version.destroy()
      }
    })
  }

  /**
   * Runs `read` on the document as it is now and the snapshots of versions `ids` (null for the current state).
   * `read` gets the document itself (see DocStore.peek): it must neither change it nor type its roots.
   */
  compare<T>(name: string, ids: readonly (string | null)[], read: (doc: Y.Doc, snapshots: Y.Snapshot[]) => T): HistoryResult<T> {
    const versions = this.list(name)
    const records: (VersionRecord | null)[] = []
    for (const id of ids) {
      const record = id === null ? null : versions.find((version) => version.id === id)
      if (record === undefined) return versionNotFound(name, id!)
      records.push(record)
    }
    const result = this.deps.docs.peek(name, (doc): HistoryResult<T> => {
      const snapshots = records.map((record) => (record ? decodeVersionSnapshot(record) : Y.snapshot(doc)))
      const missing = snapshots.findIndex((snapshot) => !holdsVersion(doc, snapshot))
      if (missing >= 0) return incomplete(ids[missing]!)
      return { ok: true, value: read(doc, snapshots) }
    })
    return result ?? docNotFound(name)
  }

  /**
   * Makes the document's content equal to version `id`'s by a new update, written as a client's would be (so the
   * namespace's rules apply, it replicates and live clients get it). The state the update undoes is kept as an
   * automatic version first — both come from one reading of the document — so that a restore can itself be
   * undone by restoring that one.
   */
  async restore(
    name: string,
    id: string,
    by: string | null,
    kinds: Readonly<Record<string, RootKind>>,
  ): Promise<HistoryResult<{ restored: VersionRecord; before: VersionRecord | null }>> {
    const target = this.list(name).find((version) => version.id === id)
    if (!target) return versionNotFound(name, id)
    const snapshot = decodeVersionSnapshot(target)
    const prepared = this.deps.docs.peek(name, (doc): HistoryResult<{ state: Uint8Array; update: Uint8Array }> =>
      holdsVersion(doc, snapshot)
        ? { ok: true, value: { state: encodeVersionSnapshot(doc), update: restoreUpdate(doc, snapshot, kinds) } }
        : incomplete(id),
    )
    if (!prepared) return docNotFound(name)
    if (!prepared.ok) return prepared
    const before = await this.record(name, { kind: 'auto', label: `Before restoring "${target.label}"`, by, editors: [] }, prepared.value.state)
    if (!before.ok && before.reason !== 'history_disabled') return before
    const applied = await this.deps.docs.apply(name, prepared.value.update, editedBy(by))
    if (!applied.ok) return applied
    return { ok: true, value: { restored: target, before: before.ok ? before.value : null } }
  }

  /** Keeps `snapshot` (encoded) as a version, and retires what the retention policy drops. */
  private async record(name: string, request: VersionRequest, snapshot: Uint8Array): Promise<HistoryResult<VersionRecord | null>> {
    const policy = this.deps.retention(name)
    if (policy.keepVersions === 0) {
      return { ok: false, reason: 'history_disabled', message: "the document's namespace keeps no versions (history.keepVersions is 0)" }
    }
    const state = decodeVersionSnapshot({ snapshot })
    const change = this.withHistory(name, (history, versions) => {
      if (request.kind === 'auto' && versions[0] && Y.equalSnapshots(decodeVersionSnapshot(versions[0]), state)) {
        return null
      }
      const record: VersionRecord = { id: newVersionId(request.kind, snapshot), ...request, timeMs: this.deps.now(), snapshot }
      const kept = [record, ...versions.filter((version) => version.id !== record.id)]
      const retire = versionsToRetire(kept, policy, record.timeMs)
      return { record, retired: retire.includes(record.id), update: historyUpdate(history, record, retire) }
    })
    if (!change) return { ok: true, value: null }
    const written = await this.whileUnwritten(name, state, () => this.write(name, change.update))
    if (!written.ok) return written
    return { ok: true, value: change.retired ? null : change.record }
  }

  /**
   * Runs `use` on a copy of the document's history of its own and its versions; for a document without one, on an
   * empty history (and no cache entry: most documents have none, and every compaction of them asks).
   */
  private withHistory<T>(name: string, use: (history: Y.Doc, versions: readonly VersionRecord[]) => T): T {
    const stored = this.deps.histories.withDoc(name, (history) => ({ value: use(history, this.lists.versions(name, history)) }))
    if (stored) return stored.value
    const empty = new Y.Doc()
    try {
      return use(empty, [])
    } finally {
      empty.destroy()
    }
  }

  private async whileUnwritten<T>(name: string, snapshot: Y.Snapshot, write: () => Promise<T>): Promise<T> {
    const unwritten = this.unwritten.get(name) ?? new Set()
    this.unwritten.set(name, unwritten.add(snapshot))
    try {
      return await write()
    } finally {
      unwritten.delete(snapshot)
      if (unwritten.size === 0) this.unwritten.delete(name)
    }
  }

  private write(name: string, update: Uint8Array): Promise<ApplyResult> {
    return this.deps.histories.apply(name, update, 'local')
  }
}

function versionNotFound(name: string, id: string): HistoryRefusal {
  return { ok: false, reason: 'version_not_found', message: `document ${JSON.stringify(name)} has no version ${id}` }
}

function incomplete(id: string): HistoryRefusal {
  return {
    ok: false,
    reason: 'version_incomplete',
    message: `this node does not hold all of version ${id}'s content: it has not arrived here yet, or this node compacted it away before the version reached it`,
  }
}
