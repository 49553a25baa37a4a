import { createAdminClient, type NamespaceSpec, type WebhookDeliveries } from '../admin-client.js'
import { SyncmeshApiError } from '../api-error.js'
import { createDocsClient } from '../docs-client.js'
import { MetricCharts } from './metric-charts.js'
import { webhookEvents } from '../../src/meta/state.js'
import { el } from './dom.js'
import { HistoryPanel, type HistorySource } from './history-panel.js'

const input = (id: string) => el<HTMLInputElement>(id)

/** The admin token lives in this tab's sessionStorage only. */
const tokenInput = input('admin-token')
tokenInput.value = sessionStorage.getItem('syncmesh-admin-token') ?? ''
const token = () => tokenInput.value
const admin = createAdminClient({ url: location.origin, token })
// The admin token opens the document routes too.
const docs = createDocsClient({ url: location.origin, token })

const charts = new MetricCharts(el('charts'))
// Documents of any shape: a version's preview is its JSON.
const docHistory = new HistoryPanel({ show: (json) => JSON.stringify(json, null, 2) })

/** A table row of text cells, then buttons that each run an action. */
function row(cells: (string | number)[], buttons: [label: string, action: () => Promise<void>][] = []): HTMLTableRowElement {
  const tr = document.createElement('tr')
  for (const text of cells) {
    const td = document.createElement('td')
    td.textContent = String(text)
    tr.append(td)
  }
  const td = document.createElement('td')
  for (const [label, action] of buttons) {
    const button = document.createElement('button')
    button.type = 'button'
    button.textContent = label
    button.dataset.action = label
    button.addEventListener('click', () => void act(action))
    td.append(button)
  }
  tr.append(td)
  return tr
}

/** Runs an action; the server's refusal (or any failure) is shown, and the tables are read again either way. */
async function act(action: () => Promise<void>): Promise<void> {
  try {
    await action()
    showError(null)
  } catch (err) {
    showError(err)
  }
  await refresh()
}

function showError(err: unknown): void {
  el('error').textContent =
    err === null ? '' : err instanceof SyncmeshApiError ? `refused: ${err.status} ${err.code}: ${err.message}` : `failed: ${(err as Error).message}`
}

/** Whether the admin really means it: every action that destroys something asks first. */
const sure = (what: string) => window.confirm(what)

async function refresh(): Promise<void> {
  if (!token()) return
  try {
    charts.add(await (await fetch('/metrics')).text(), Date.now() / 1_000)
    const [cluster, namespaces, page, webhooks] = await Promise.all([admin.cluster(), admin.namespaces(), docs.list({ limit: 100 }), admin.webhooks()])
    el('summary').textContent = `node ${cluster.id} · leader ${cluster.leader ?? 'none'} · term ${cluster.term} · commit ${cluster.commitIndex} · ${cluster.replication.documents} documents`
    el('members').replaceChildren(
      ...cluster.members.map((m) =>
        row([m.id, m.role, m.id === cluster.leader ? 'leader' : '', m.url], [
          ['lead', async () => void (await admin.transferLeadership(m.id))],
          ['remove', async () => void (sure(`Remove member ${m.id} from the cluster? It stops for good.`) && (await admin.removeMember(m.id)))],
        ]),
      ),
    )
    el('peers').replaceChildren(
      ...cluster.peers.map((p) => row([p.id, p.link.state, p.link.sentBytes, p.link.receivedBytes, p.lastReconciliation ? new Date(p.lastReconciliation.startedAt).toLocaleTimeString() : '–'])),
    )
    el('namespaces').replaceChildren(
      ...namespaces.namespaces.map((ns) =>
        row([ns.name, rootsText(ns.schema.roots), limitsText(ns.limits), [ns.readOnly && 'read-only', ns.publicRead && 'public-read'].filter(Boolean).join(' ')], [
          ['edit', async () => editNamespace(ns.name, ns)],
          ['delete', async () => void (sure(`Delete namespace ${ns.name}? Its documents stay, without its schema and limits.`) && (await admin.deleteNamespace(ns.name)))],
        ]),
      ),
    )
    el('docs').replaceChildren(
      ...page.docs.map((d) =>
        row([d.name, d.sizeBytes, new Date(d.updatedAt).toLocaleString()], [
          ['view', async () => showDoc(d.name, d.sizeBytes, await docs.readJson(d.name))],
          ['history', async () => showHistory(d.name)],
          ['delete', async () => void (sure(`Delete ${d.name} on every node, for good? Its name can never be written again.`) && (await admin.deleteDoc(d.name)))],
        ]),
      ),
    )
    el('webhooks').replaceChildren(
      ...webhooks.webhooks.map((w) =>
        row([w.id, w.url, w.events.join(', '), w.prefix || '(all)'], [
          ['deliveries', async () => showDeliveries(w.id, await admin.webhookDeliveries(w.id, { limit: 50 }))],
          ['remove', async () => void (sure(`Remove webhook ${w.id} (${w.url})?`) && (await admin.removeWebhook(w.id)))],
        ]),
      ),
    )
    const failed = await Promise.all(webhooks.webhooks.map((w) => admin.webhookDeliveries(w.id, { status: 'failed', limit: 20 })))
    el('failed-deliveries').replaceChildren(
      ...failed.flatMap((list) =>
        list.deliveries.map((d) =>
          row([list.webhookId, d.name, d.type, d.attempts, d.recentAttempts.at(-1)?.error ?? '–', d.finishedAt ? new Date(d.finishedAt).toLocaleString() : '–']),
        ),
      ),
    )
  } catch (err) {
    showError(err)
  }
}

const rootsText = (roots: Record<string, string>) => Object.entries(roots).map(([root, kind]) => `${root}:${kind}`).join(', ') || '(any)'
const limitsText = (limits: { maxUpdateBytes?: number; maxDocBytes?: number }) =>
  [limits.maxUpdateBytes && `update ≤ ${limits.maxUpdateBytes} B`, limits.maxDocBytes && `doc ≤ ${limits.maxDocBytes} B`].filter(Boolean).join(', ') || '–'

function showDeliveries(webhookId: string, list: WebhookDeliveries): void {
  const unreachable = list.unreachable.map((u) => `${u.node} (${u.error})`).join(', ')
  el('deliveries-title').textContent = `${webhookId} · sent by ${list.responsibleNode ?? 'no node'} · ${list.deliveries.length} recent deliveries${unreachable && ` · not heard from: ${unreachable}`}`
  el('deliveries-json').textContent = JSON.stringify(list.deliveries, null, 2)
}

function showDoc(name: string, bytes: number, json: unknown): void {
  el('doc-title').textContent = `${name} · ${bytes} bytes stored`
  el('doc-json').textContent = JSON.stringify(json, null, 2)
}

/** The document's versions, read and restored with the admin token; the tables' refresh leaves them as they are. */
async function showHistory(name: string): Promise<void> {
  const source: HistorySource = {
    versions: () => docs.versions(name),
    version: (id, types) => docs.readVersion(name, id, types),
    diff: (from, to, types) => docs.diffVersions(name, from, to, types),
    restore: (id, types) => docs.restoreVersion(name, id, types),
  }
  el('history-title').textContent = `History of ${name}`
  el('doc-history').hidden = false
  await docHistory.open(source)
}

function editNamespace(name: string, ns: NamespaceSpec): void {
  input('ns-name').value = name
  input('ns-roots').value = Object.entries(ns.schema.roots).map(([root, kind]) => `${root}:${kind}`).join(',')
  input('ns-max-update').value = ns.limits?.maxUpdateBytes ? String(ns.limits.maxUpdateBytes) : ''
  input('ns-max-doc').value = ns.limits?.maxDocBytes ? String(ns.limits.maxDocBytes) : ''
  input('ns-read-only').checked = ns.readOnly ?? false
  input('ns-public-read').checked = ns.publicRead ?? false
}

/** Binds a form's submit to an action; the form is cleared once the action succeeded. */
function onSubmit(id: string, action: () => Promise<void>): void {
  const form = el<HTMLFormElement>(id)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    void act(async () => {
      await action()
      form.reset()
    })
  })
}

el<HTMLFormElement>('login').addEventListener('submit', (event) => {
  event.preventDefault()
  sessionStorage.setItem('syncmesh-admin-token', tokenInput.value)
  void refresh()
})
onSubmit('add-member', async () => {
  await admin.addMember({ id: input('member-id').value, url: input('member-url').value, ...(input('member-voter').checked && { role: 'voter' as const }) })
})
onSubmit('put-namespace', async () => {
  const number = (id: string) => (input(id).value === '' ? undefined : Number(input(id).value))
  const maxUpdateBytes = number('ns-max-update')
  const maxDocBytes = number('ns-max-doc')
  const roots = Object.fromEntries(
    input('ns-roots').value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '').map((entry) => entry.split(':') as [string, string]),
  )
  await admin.putNamespace(input('ns-name').value, {
    schema: { roots } as NamespaceSpec['schema'],
    limits: { ...(maxUpdateBytes !== undefined && { maxUpdateBytes }), ...(maxDocBytes !== undefined && { maxDocBytes }) },
    readOnly: input('ns-read-only').checked,
    publicRead: input('ns-public-read').checked,
  })
})
onSubmit('add-webhook', async () => {
  const events = webhookEvents.filter((event) => input(`hook-${event}`).checked)
  const made = await admin.addWebhook({ url: input('hook-url').value, events, prefix: input('hook-prefix').value })
  el('hook-secret').textContent = `${made.id}: signing secret ${made.secret} (shown only now)`
})

void refresh()
setInterval(() => void refresh(), 2_000)
