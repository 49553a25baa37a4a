import { createHash, randomBytes } from 'node:crypto'
import * as Y from 'yjs'
import { z } from 'zod'

/*
 * A document's version history is a Yjs document of its own (same name, in the history store), holding one map
 * entry per version: id → record. Being a CRDT, it replicates, merges after a partition and drops retired
 * versions by the same machinery as documents do: versions made concurrently on two nodes are both kept, and
 * two nodes retiring the same version merge into one deletion.
 */

export const versionKinds = ['named', 'auto'] as const
export type VersionKind = (typeof versionKinds)[number]

export interface VersionRecord {
  id: string
  label: string
  timeMs: number
  /** The subject of the token that asked for it, or an automatic version's only editor; null without one. */
  by: string | null
  kind: VersionKind
  /** Of an automatic version: the token subjects whose edits the node took since its previous version; [] for a named one. */
  editors: string[]
  /** The document's Yjs snapshot in the v2 encoding (encodeVersionSnapshot); its content, see version-content.ts. */
  snapshot: Uint8Array
}

export const versionIdSchema = z.string().regex(/^v_[0-9a-f]{20}$/, 'a version id (v_ and 20 hex digits)')
export const maxLabelLength = 200
/** The most editors an automatic version names (the first to edit since the version before). */
export const maxEditors = 100

const storedRecord = z.object({
  label: z.string().max(maxLabelLength),
  timeMs: z.number().int().nonnegative(),
  by: z.string().max(1024).nullable(),
  kind: z.enum(versionKinds),
  editors: z.array(z.string().max(1024)).max(maxEditors).default([]),
  snapshot: z.instanceof(Uint8Array).refine(decodes, 'a Yjs snapshot (v2 encoding)'),
})

/** A version's snapshot as records hold it: Yjs's v2 encoding, whose delete sets are about half the size of v1's. */
export function encodeVersionSnapshot(doc: Y.Doc): Uint8Array {
  return Y.encodeSnapshotV2(Y.snapshot(doc))
}

/** The snapshot of a record `readVersions` returned (which only returns records whose snapshot decodes). */
export function decodeVersionSnapshot(version: Pick<VersionRecord, 'snapshot'>): Y.Snapshot {
  return Y.decodeSnapshotV2(version.snapshot)
}

function decodes(snapshot: Uint8Array): boolean {
  try {
    Y.decodeSnapshotV2(snapshot)
    return true
  } catch {
    return false
  }
}

const versionsKey = 'versions'

/**
 * Every well-formed version of a history document, newest first (by time, then id). A peer's record that is not
 * (a damaged or hostile one) is left out, so that nothing that reads versions — compaction included — meets it.
 */
export function readVersions(history: Y.Doc): VersionRecord[] {
  const records: VersionRecord[] = []
  for (const [id, value] of history.getMap(versionsKey).entries()) {
    const parsed = storedRecord.safeParse(value)
    if (parsed.success && versionIdSchema.safeParse(id).success) records.push({ id, ...parsed.data })
  }
  return records.sort(newestFirst)
}

function newestFirst(a: VersionRecord, b: VersionRecord): number {
  return b.timeMs - a.timeMs || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
}

/**
 * Adds `add` (if given) to `history` — a history document of the caller's own, not one others share — and
 * removes the versions `retire` names; returns that change as an update.
 */
export function historyUpdate(history: Y.Doc, add: VersionRecord | null, retire: readonly string[]): Uint8Array {
  const before = Y.encodeStateVector(history)
  const versions = history.getMap(versionsKey)
  history.transact(() => {
    if (add) {
      const { id, ...stored } = add
      versions.set(id, stored)
    }
    for (const id of retire) versions.delete(id)
  })
  return Y.encodeStateAsUpdate(history, before)
}

/**
 * A new version's id: random for a named one; for an automatic one, derived from the snapshot, so that nodes
 * that make one of the same state (each after its own quiet period) make the same entry, not two.
 */
export function newVersionId(kind: VersionKind, snapshot: Uint8Array): string {
  const bytes = kind === 'auto' ? createHash('sha256').update(snapshot).digest() : randomBytes(10)
  return `v_${bytes.subarray(0, 10).toString('hex')}`
}

/** What the REST API shows of a version. */
export function versionView({ id, label, timeMs, by, kind, editors }: VersionRecord) {
  return { id, label, time: new Date(timeMs).toISOString(), by, kind, editors }
}
export type VersionView = ReturnType<typeof versionView>
