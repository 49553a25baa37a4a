import { SyncmeshApiError } from '../api-error.js'
import type { DocVersions } from '../doc-versions.js'
import type { RootKind, Version, VersionDiff } from '../docs-client.js'
import { el, element } from './dom.js'

/** One document's history: an open SyncedDoc (the demo) or REST calls with the admin token (the admin page). */
export type HistorySource = Pick<DocVersions, 'versions' | 'version' | 'diff' | 'restore'>

export interface HistoryPanelOptions {
  /** A version's JSON as the preview shows it. */
  show(json: Record<string, unknown>): string
  /** Root kinds where inference is not wanted. */
  types?: Record<string, RootKind>
}

/**
 * The history elements of a page (historyPanel in web-routes.ts): a document's versions (label, time, who), the
 * chosen one's content and what changed since it, and a button that restores it. Restoring needs no confirmation:
 * the node keeps the state before it as a version of its own, listed at once.
 */
export class HistoryPanel {
  private source: HistorySource | null = null
  private chosen: Version | null = null

  constructor(private readonly options: HistoryPanelOptions) {
    el('restore-version').addEventListener('click', () => void this.restore())
  }

  /** Shows this document's history, with nothing chosen. */
  async open(source: HistorySource): Promise<void> {
    this.source = source
    this.closePreview()
    el('versions').replaceChildren()
    this.say('')
    await this.refresh()
  }

  /** Lists the versions again; the chosen one stays chosen. */
  async refresh(): Promise<void> {
    const source = this.source
    const versions = source && (await this.attempt(() => source.versions()))
    // Answers for a document no longer shown are dropped.
    if (!versions || source !== this.source) return
    el('versions').replaceChildren(...versions.map((version) => this.item(version)))
    if (versions.length === 0) el('versions').append(element('li', 'No versions yet.', 'muted'))
  }

  /** Shows a version's content and what changed since it. */
  async choose(version: Version): Promise<void> {
    const source = this.source
    if (!source) return
    this.chosen = version
    this.say('')
    for (const button of el('versions').querySelectorAll('button')) button.setAttribute('aria-pressed', String(button.dataset.version === version.id))
    const read = await this.attempt(() => Promise.all([source.version(version.id, this.options.types), source.diff(version.id, 'current', this.options.types)]))
    if (!read || this.chosen !== version) return
    const [json, diff] = read
    el('version-title').textContent = `${version.label} · ${new Date(version.time).toLocaleString()}`
    el('version-content').textContent = this.options.show(json)
    const changes = changeItems(diff.roots)
    el('version-changes-title').textContent = changes.length === 0 ? 'The document is as it was then.' : 'Changed since then (restoring undoes it):'
    el('version-changes').replaceChildren(...changes)
    el('version-preview').hidden = false
  }

  private async restore(): Promise<void> {
    const { source, chosen } = this
    if (!source || !chosen) return
    this.say(`Restoring “${chosen.label}”…`)
    const done = await this.attempt(() => source.restore(chosen.id, this.options.types))
    if (!done) return
    // The preview closes: the version is what the document shows now.
    this.closePreview()
    await this.refresh()
    const kept = done.before ? `; the state before is kept as “${done.before.label}”` : ''
    this.say(`Restored “${done.restored.label}”${kept}.`)
  }

  /** Runs a request; a refusal or a failure is shown instead of its answer, until a later request succeeds. */
  async attempt<T>(request: () => Promise<T>): Promise<T | null> {
    try {
      const answer = await request()
      if (el('history-status').dataset.error) this.say('')
      return answer
    } catch (err) {
      this.say(err instanceof SyncmeshApiError ? `refused: ${err.status} ${err.code}: ${err.message}` : `failed: ${(err as Error).message}`, true)
      return null
    }
  }

  /** What the panel tells, until the next thing it tells. */
  say(text: string, error = false): void {
    const status = el('history-status')
    status.textContent = text
    if (error) status.dataset.error = 'true'
    else delete status.dataset.error
  }

  private closePreview(): void {
    this.chosen = null
    el('version-preview').hidden = true
    for (const button of el('versions').querySelectorAll('button')) button.setAttribute('aria-pressed', 'false')
  }

  private item(version: Version): HTMLLIElement {
    const li = element('li')
    const button = element('button', version.label)
    button.type = 'button'
    button.dataset.version = version.id
    button.setAttribute('aria-pressed', String(version.id === this.chosen?.id))
    button.addEventListener('click', () => void this.choose(version))
    const by = version.kind === 'auto' && version.editors.length > 0 ? version.editors.join(', ') : version.by
    const who = [version.kind === 'auto' && 'automatic', by && `by ${by}`].filter(Boolean).join(', ')
    li.append(button, element('span', ` ${new Date(version.time).toLocaleString()}${who && ` · ${who}`}`, 'muted'))
    return li
  }
}

/** One line per change: text runs added and removed, map keys from before to after, other roots whole. */
function changeItems(roots: VersionDiff['roots']): HTMLLIElement[] {
  const show = (value: unknown) => JSON.stringify(value)
  return Object.entries(roots).flatMap(([root, change]) => {
    if (change.kind === 'text') {
      return [
        ...change.inserted.map((run) => element('li', `${root}: added ${show(run)}`, 'added')),
        ...change.deleted.map((run) => element('li', `${root}: removed ${show(run)}`, 'removed')),
      ]
    }
    if (change.kind === 'map') return change.changed.map(({ key, before, after }) => element('li', `${root}.${key}: ${show(before)} → ${show(after)}`))
    return [element('li', `${root}: ${show(change.before)} → ${show(change.after)}`)]
  })
}
