import * as Y from 'yjs'
import { docToJson, inferRootKind, type RootKind } from '../docs/doc-json.js'

/*
 * A version is a Yjs snapshot (state vector and delete set) of a document whose deleted content the server keeps
 * (its Y.Docs are made with gc off): the version's content is the document's structs up to the state vector with
 * the snapshot's deletions, which Y.createDocFromSnapshot rebuilds. Only compaction drops deleted content, and only
 * what no retained version shows (docs/compacted-base.ts).
 */

/** The encoded Yjs snapshot of `doc` as it is now. */
export function encodeVersionSnapshot(doc: Y.Doc): Uint8Array {
  return Y.encodeSnapshot(Y.snapshot(doc))
}

/**
 * Whether `doc` holds all the version shows: every struct under its state vector (a version can arrive from a peer
 * before the document's content), each with its content (a node that compacted before a version made elsewhere
 * reached it may have dropped content the version shows).
 */
export function holdsVersion(doc: Y.Doc, snapshot: Y.Snapshot): boolean {
  for (const [client, clock] of snapshot.sv) {
    const structs = doc.store.clients.get(client) ?? []
    const last = structs.at(-1)
    if (clock > 0 && (!last || last.id.clock + last.length < clock)) return false
    for (const struct of structs) {
      if (struct.id.clock >= clock) break
      if (struct instanceof Y.Item && struct.content instanceof Y.ContentDeleted && !deletedIn(snapshot.ds, struct, clock)) return false
    }
  }
  return true
}

/**
 * Whether the delete set deletes the struct's ids below `clock` (a struct of content dropped was deleted as a whole;
 * its part at or past the version's state vector did not exist for the version, and was deleted later).
 */
function deletedIn(ds: Y.Snapshot['ds'], struct: Y.Item, clock: number): boolean {
  const last = Math.min(struct.id.clock + struct.length, clock) - 1
  return Y.isDeleted(ds, struct.id) && Y.isDeleted(ds, Y.createID(struct.id.client, last))
}

/** The document as the version shows it, in a new Y.Doc (gc off, so that it can be compared and restored from). */
export function versionDoc(doc: Y.Doc, snapshot: Y.Snapshot): Y.Doc {
  return Y.createDocFromSnapshot(doc, snapshot, new Y.Doc({ gc: false }))
}

/** Each root's kind: as `kinds` says, else inferred from the current document's content. */
export function rootKinds(doc: Y.Doc, kinds: Readonly<Record<string, RootKind>>): Map<string, RootKind> {
  const all = new Map<string, RootKind>()
  for (const [name, type] of doc.share) all.set(name, kinds[name] ?? inferRootKind(type))
  for (const [name, kind] of Object.entries(kinds)) all.set(name, kind)
  return all
}

const constructors = { text: Y.Text, map: Y.Map, array: Y.Array, xml: Y.XmlFragment } as const

/**
 * An update that, applied to `doc`, makes its content equal to the version's: the changes made since the version
 * are undone as Y.UndoManager undoes (deleted content is inserted again, inserted content deleted), so history
 * is never rewritten and the result merges like any edit.
 */
export function restoreUpdate(doc: Y.Doc, snapshot: Y.Snapshot, kinds: Readonly<Record<string, RootKind>> = {}): Uint8Array {
  const restored = versionDoc(doc, snapshot)
  try {
    const scope = [...rootKinds(doc, kinds)].map(([name, kind]) => restored.get(name, constructors[kind]))
    const since = Symbol('changes since the version')
    const undo = new Y.UndoManager(scope, { trackedOrigins: new Set([since]), captureTimeout: Number.POSITIVE_INFINITY })
    Y.applyUpdate(restored, Y.encodeStateAsUpdate(doc, Y.encodeStateVector(restored)), since)
    undo.undo()
    undo.destroy()
    return Y.encodeStateAsUpdate(restored, Y.encodeStateVector(doc))
  } finally {
    restored.destroy()
  }
}

export type RootChange =
  | { kind: 'text'; inserted: string[]; deleted: string[] }
  | { kind: 'map'; changed: { key: string; before: unknown; after: unknown }[] }
  | { kind: 'array' | 'xml'; before: unknown; after: unknown }

/**
 * What changed from version `from` to version `to` of `doc`, per root that changed: text inserted and deleted
 * (runs, in document order), map keys whose value changed (absent on one side is null), and for arrays and XML
 * the whole root before and after.
 */
export function diffVersions(
  doc: Y.Doc,
  from: Y.Snapshot,
  to: Y.Snapshot,
  kinds: Readonly<Record<string, RootKind>> = {},
): Record<string, RootChange> {
  const before = versionDoc(doc, from)
  const after = versionDoc(doc, to)
  try {
    const changes: Record<string, RootChange> = {}
    for (const [name, kind] of rootKinds(doc, kinds)) {
      const change = rootChange(doc, name, kind, { before, after, from, to })
      if (change) changes[name] = change
    }
    return changes
  } finally {
    before.destroy()
    after.destroy()
  }
}

interface DiffSides {
  before: Y.Doc
  after: Y.Doc
  from: Y.Snapshot
  to: Y.Snapshot
}

function rootChange(doc: Y.Doc, name: string, kind: RootKind, sides: DiffSides): RootChange | null {
  if (kind === 'text') return textChange(doc.getText(name), sides)
  const json = (side: Y.Doc) => docToJson(side, { [name]: kind })[name]
  const before = json(sides.before)
  const after = json(sides.after)
  if (kind === 'map') {
    const was = (before ?? {}) as Record<string, unknown>
    const now = (after ?? {}) as Record<string, unknown>
    const changed = [...new Set([...Object.keys(was), ...Object.keys(now)])]
      .sort()
      .filter((key) => JSON.stringify(was[key]) !== JSON.stringify(now[key]))
      .map((key) => ({ key, before: was[key] ?? null, after: now[key] ?? null }))
    return changed.length > 0 ? { kind, changed } : null
  }
  return JSON.stringify(before) === JSON.stringify(after) ? null : { kind, before, after }
}

/** Text runs the later version adds and removes, from Yjs's own snapshot delta (which marks them `ychange`). */
function textChange(text: Y.Text, { from, to }: DiffSides): RootChange | null {
  const inserted: string[] = []
  const deleted: string[] = []
  const delta = text.toDelta(to, from) as { insert: unknown; attributes?: { ychange?: { type: 'added' | 'removed' } } }[]
  for (const op of delta) {
    const change = op.attributes?.ychange?.type
    if (change === undefined || typeof op.insert !== 'string') continue
    const runs = change === 'added' ? inserted : deleted
    runs.push(op.insert)
  }
  return inserted.length > 0 || deleted.length > 0 ? { kind: 'text', inserted, deleted } : null
}
