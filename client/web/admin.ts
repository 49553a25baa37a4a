import { createAdminClient } from '../admin-client.js'
import { jsonOf } from '../node-api.js'

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

/** The admin token lives in this tab's sessionStorage only. */
const form = el<HTMLFormElement>('login')
const tokenInput = el<HTMLInputElement>('admin-token')
tokenInput.value = sessionStorage.getItem('syncmesh-admin-token') ?? ''
form.addEventListener('submit', (event) => {
  event.preventDefault()
  sessionStorage.setItem('syncmesh-admin-token', tokenInput.value)
  void refresh()
})

const cell = (text: string | number) => {
  const td = document.createElement('td')
  td.textContent = String(text)
  return td
}
function fill(tbodyId: string, rows: (string | number)[][]): void {
  el(tbodyId).replaceChildren(...rows.map((row) => {
    const tr = document.createElement('tr')
    tr.append(...row.map(cell))
    return tr
  }))
}

const admin = createAdminClient({ url: location.origin, token: () => tokenInput.value })
// The admin token opens the document routes too.
const docsApi = admin.api.v1.docs

async function refresh(): Promise<void> {
  if (!tokenInput.value) return
  try {
    const cluster = await admin.cluster()
    const docs = await jsonOf(docsApi.$get({ query: { limit: '100' } }))
    el('summary').textContent = `node ${cluster.id} · leader ${cluster.leader ?? 'none'} · term ${cluster.term} · commit ${cluster.commitIndex} · ${cluster.replication.documents} documents`
    fill('members', cluster.members.map((m) => [m.id, m.role, m.id === cluster.leader ? 'leader' : '', m.url]))
    fill('peers', cluster.peers.map((p) => [p.id, p.link.state, p.link.sentBytes, p.link.receivedBytes, p.lastReconciliation ? new Date(p.lastReconciliation.startedAt).toLocaleTimeString() : '–']))
    fill('docs', docs.docs.map((d) => [d.name, d.sizeBytes, new Date(d.updatedAt).toLocaleString()]))
    el('error').textContent = ''
  } catch (err) {
    el('error').textContent = (err as Error).message
  }
}

void refresh()
setInterval(() => void refresh(), 2_000)
