import type { Logger } from 'pino'
import type { DocStore } from '../docs/doc-store.js'
import { PeerOrigin } from '../replication/peer-origin.js'
import { editorOf } from '../docs/edited-by.js'
import { maxEditors } from './version-records.js'
import type { VersionHistory } from './version-history.js'

export interface AutoVersionOptions {
  /** A version is made once a document has had no edit for this long… */
  quietMs: number
  /** …or once it has been edited for this long without one. 0 for both: no automatic versions. */
  intervalMs: number
}

export const defaultAutoVersionOptions: AutoVersionOptions = { quietMs: 60_000, intervalMs: 10 * 60_000 }

export const autoVersionLabel = 'Automatic'

interface Pending {
  /** When the first edit since the last version was made. */
  sinceMs: number
  /** The token subjects of those edits, up to maxEditors of them. */
  editors: Set<string>
  timer: NodeJS.Timeout
}

/**
 * Makes automatic versions of the documents this node's clients and REST callers edit (edits from peers are
 * versioned by the node that took them), naming who made the edits since the previous one (see edited-by.ts). Ids
 * come from the state (see newVersionId), so two nodes that both took edits and then saw the same quiet state make
 * one version between them.
 */
export class AutoVersions {
  private readonly pending = new Map<string, Pending>()
  private readonly stopListening: () => void

  constructor(
    docs: DocStore,
    private readonly history: VersionHistory,
    private readonly options: AutoVersionOptions,
    private readonly log: Logger,
  ) {
    this.stopListening = docs.on({
      committed: (name, updates) => {
        const local = updates.filter(({ origin }) => !(origin instanceof PeerOrigin))
        if (local.length > 0) this.edited(name, local.map(({ origin }) => editorOf(origin)))
      },
      deleted: (name) => this.cancel(name),
    })
  }

  close(): void {
    this.stopListening()
    for (const name of [...this.pending.keys()]) this.cancel(name)
  }

  private edited(name: string, editors: readonly (string | null)[]): void {
    if (this.options.quietMs === 0 && this.options.intervalMs === 0) return
    const now = Date.now()
    const earlier = this.pending.get(name)
    const sinceMs = earlier?.sinceMs ?? now
    const named = earlier?.editors ?? new Set<string>()
    for (const editor of editors) if (editor !== null && named.size < maxEditors) named.add(editor)
    this.cancel(name)
    const untilQuiet = this.options.quietMs === 0 ? Number.POSITIVE_INFINITY : this.options.quietMs
    const untilInterval = this.options.intervalMs === 0 ? Number.POSITIVE_INFINITY : sinceMs + this.options.intervalMs - now
    const timer = setTimeout(() => this.make(name), Math.max(0, Math.min(untilQuiet, untilInterval)))
    timer.unref()
    this.pending.set(name, { sinceMs, editors: named, timer })
  }

  private cancel(name: string): void {
    const pending = this.pending.get(name)
    if (!pending) return
    clearTimeout(pending.timer)
    this.pending.delete(name)
  }

  private make(name: string): void {
    const editors = [...(this.pending.get(name)?.editors ?? [])].sort()
    this.pending.delete(name)
    this.history.create(name, { kind: 'auto', label: autoVersionLabel, by: editors.length === 1 ? editors[0]! : null, editors }).then(
      (result) => {
        if (!result.ok && result.reason !== 'history_disabled' && result.reason !== 'deleted') {
          this.log.warn({ doc: name, reason: result.reason }, 'automatic version not made')
        }
      },
      (err: unknown) => this.log.error({ err, doc: name }, 'making an automatic version failed'),
    )
  }
}
