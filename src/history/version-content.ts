import * as Y from 'yjs'
import { docToJson, inferRootKind, type RootKind } from '../docs/doc-json.js'

/*
 * A version is a Yjs snapshot (state vector and delete set) of a document whose deleted content the server keeps
 * (its Y.Docs are made with gc off): the version's content is the document's structs up to the state vector with
 * the snapshot's deletions, which Y.createDocFromSnapshot rebuilds. Only compaction drops deleted content, and only
 * what no retained version shows (docs/compacted-base.ts).
 */

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
 * the whole root before and after. `doc` is only read (its roots are not typed), so it may be the shared one.
 */
export function diffVersions(
  doc: Y.Doc,
  from: Y.Snapshot,
  to: Y.Snapshot,
  kinds: Readonly<Record<string, RootKind>> = {},
): Record<string, RootChange> {
  const sides = new DiffSides(doc, from, to)
  try {
    const changes: Record<string, RootChange> = {}
    for (const [name, kind] of rootKinds(doc, kinds)) {
      const change = rootChange(name, kind, sides)
      if (change) changes[name] = change
    }
    return changes
  } finally {
    sides.destroy()
  }
}

/** The two versions' documents, and one holding every struct of both for Yjs's snapshot delta of a text. */
class DiffSides {
  readonly before: Y.Doc
  readonly after: Y.Doc
  private spanning: Y.Doc | null = null

  constructor(
    private readonly doc: Y.Doc,
    readonly from: Y.Snapshot,
    readonly to: Y.Snapshot,
  ) {
    this.before = versionDoc(doc, from)
    this.after = versionDoc(doc, to)
  }

  /** A document with every struct of both versions, their deleted content included (its own deletions do not matter). */
  span(): Y.Doc {
    if (covers(this.to, this.from)) return this.after
    if (covers(this.from, this.to)) return this.before
    if (!this.spanning) {
      const sv = new Map(this.from.sv)
      for (const [client, clock] of this.to.sv) sv.set(client, Math.max(clock, sv.get(client) ?? 0))
      this.spanning = versionDoc(this.doc, Y.createSnapshot(Y.createDeleteSet(), sv))
    }
    return this.spanning
  }

  destroy(): void {
    this.before.destroy()
    this.after.destroy()
    this.spanning?.destroy()
  }
}

function covers(a: Y.Snapshot, b: Y.Snapshot): boolean {
  for (const [client, clock] of b.sv) if ((a.sv.get(client) ?? 0) < clock) return false
  return true
}

function rootChange(name: string, kind: RootKind, sides: DiffSides): RootChange | null {
  if (kind === 'text') return textChange(sides.span().getText(name), sides)
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

/**
 * Text runs the later version adds and removes. Yjs's snapshot delta marks items added and removed (`ychange`);
 * between two unchanged runs, what was removed and what was added are compared as strings and only where they
 * differ counts — so text deleted and typed again the same (as a restore does: it inserts new items) is no change.
 */
function textChange(text: Y.Text, { from, to }: DiffSides): RootChange | null {
  const inserted: string[] = []
  const deleted: string[] = []
  let added = ''
  let removed = ''
  const endRun = () => {
    const [insert, remove] = withoutCommonEnds(added, removed)
    if (insert) inserted.push(insert)
    if (remove) deleted.push(remove)
    added = removed = ''
  }
  const delta = text.toDelta(to, from) as { insert: unknown; attributes?: { ychange?: { type: 'added' | 'removed' } } }[]
  for (const op of delta) {
    const change = op.attributes?.ychange?.type
    if (typeof op.insert !== 'string') {
      if (change === undefined) endRun()
    } else if (change === 'added') added += op.insert
    else if (change === 'removed') removed += op.insert
    else endRun()
  }
  endRun()
  return inserted.length > 0 || deleted.length > 0 ? { kind: 'text', inserted, deleted } : null
}

/** `a` and `b` without the start and the end they share (never splitting a surrogate pair). */
export function withoutCommonEnds(a: string, b: string): [string, string] {
  let start = 0
  const shorter = Math.min(a.length, b.length)
  while (start < shorter && a.charCodeAt(start) === b.charCodeAt(start)) start++
  if (start > 0 && isHighSurrogate(a.charCodeAt(start - 1))) start--
  let end = 0
  while (end < shorter - start && a.charCodeAt(a.length - 1 - end) === b.charCodeAt(b.length - 1 - end)) end++
  if (end > 0 && isLowSurrogate(a.charCodeAt(a.length - end))) end--
  return [a.slice(start, a.length - end), b.slice(start, b.length - end)]
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff
