import { EditorView, basicSetup } from 'codemirror'
import { EditorState } from '@codemirror/state'
import { yCollab } from 'y-codemirror.next'
import { createClient, type SyncedDoc } from '../browser.js'
import { el } from './dom.js'
import { HistoryPanel } from './history-panel.js'

const params = new URLSearchParams(location.search)

/** Where client tokens are required, the demo takes one from ?token= or from the form, for this tab only. */
const tokenInput = el<HTMLInputElement>('token')
tokenInput.value = params.get('token') ?? sessionStorage.getItem('syncmesh-token') ?? ''
const docInput = el<HTMLInputElement>('doc')
docInput.value = params.get('doc') ?? 'demo/welcome'
const userColors = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#008080']
const me = { name: params.get('name') ?? `guest-${Math.floor(Math.random() * 1000)}`, color: userColors[Math.floor(Math.random() * userColors.length)]! }

// Every member may serve this document: the client fails over between them.
const members = await fetch('/v1/endpoints')
  .then(async (res) => ((await res.json()) as { endpoints: string[] }).endpoints)
  .catch(() => [])
// This page's node first, so that the page shows the node it came from; the others for failover.
const client = createClient({
  endpoints: [location.origin, ...members.filter((url) => url !== location.origin)],
  start: 'first',
  token: async () => tokenInput.value,
})
let current: { synced: SyncedDoc; view: EditorView } | null = null
// The demo's document is one text, `body`; a version's preview is that text.
const sidebar = new HistoryPanel({ types: { body: 'text' }, show: (json) => String(json.body ?? '') })
/** How often the sidebar lists the versions again, for those others save and the node's automatic ones. */
const historyRefreshMs = 5_000

function open(name: string): void {
  current?.synced.close()
  current?.view.destroy()
  const synced = client.open(name)
  synced.awareness.setLocalStateField('user', { name: me.name, color: me.color, colorLight: `${me.color}33` })
  const text = synced.doc.getText('body')
  const view = new EditorView({
    state: EditorState.create({ doc: text.toString(), extensions: [basicSetup, EditorView.lineWrapping, yCollab(text, synced.awareness)] }),
    parent: el('editor'),
  })
  synced.onStatus(({ state, endpoint, error }) => {
    el('status').textContent = error ? `${state}: ${error.reason || error.code}` : state
    el('status').dataset.state = state
    el('node').textContent = endpoint ?? '–'
  })
  current = { synced, view }
  void sidebar.open(synced)
  history.replaceState(null, '', `?doc=${encodeURIComponent(name)}`)
}

el<HTMLFormElement>('picker').addEventListener('submit', (event) => {
  event.preventDefault()
  sessionStorage.setItem('syncmesh-token', tokenInput.value)
  open(docInput.value.trim() || 'demo/welcome')
})
el<HTMLFormElement>('save-version').addEventListener('submit', (event) => {
  event.preventDefault()
  const synced = current?.synced
  const label = el<HTMLInputElement>('version-label')
  if (!synced || label.value.trim() === '') return
  // Saved once the node holds every keystroke typed so far: offline, that waits until the page is back online.
  sidebar.say('Saving…')
  void sidebar.attempt(() => synced.saveVersion(label.value.trim())).then(async (saved) => {
    if (!saved) return
    label.value = ''
    await sidebar.refresh()
    sidebar.say(`Saved “${saved.label}”.`)
  })
})
setInterval(() => void sidebar.refresh(), historyRefreshMs)
el('who').textContent = me.name
open(docInput.value)
// For the end-to-end tests: the document and its sync state.
Object.assign(window, { syncmesh: { text: () => current?.synced.doc.getText('body').toString() ?? '', status: () => current?.synced.status } })
