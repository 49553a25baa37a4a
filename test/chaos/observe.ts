import { createHash } from 'node:crypto'
import * as Y from 'yjs'
import { createDocsClient } from '../../client/docs-client.js'
import { SyncmeshApiError } from '../../client/api-error.js'
import { markersMap } from './writers.js'

/** One document as one node answers for it. */
export type DocObservation =
  | { state: 'deleted' }
  | { state: 'absent' }
  /** `digest` covers the state vector and the delete set: equal digests, equal content. */
  | { state: 'present'; digest: string; markers: ReadonlySet<string>; /** Base64, as the change feed writes it. */ stateVector: string }

export interface NodeObservation {
  node: string
  /** Every name the node lists. */
  listed: ReadonlySet<string>
  docs: ReadonlyMap<string, DocObservation>
}

/** The latest event for each document in a node's change feed. */
export type FeedObservation = ReadonlyMap<string, { type: 'updated' | 'deleted'; stateVector: string | null }>

/**
 * The node's whole change feed, read from its oldest event once the node has recorded every change it holds
 * (its `due` gauge at 0); null if it does not answer.
 */
export async function observeFeed(url: string, token: string): Promise<FeedObservation | null> {
  const get = (path: string) => fetch(url + path, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })
  try {
    for (let tries = 0; !(await (await get('/metrics')).text()).includes('syncmesh_change_feed_due_docs 0'); tries++) {
      if (tries === 100) return null
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const latest = new Map<string, { type: 'updated' | 'deleted'; stateVector: string | null }>()
    let since: string | null = null
    for (;;) {
      const res = await get(`/v1/changes?limit=1000${since === null ? '' : `&since=${since}`}`)
      if (!res.ok) return null
      const page = (await res.json()) as { changes: { name: string; type: 'updated' | 'deleted'; stateVector: string | null }[]; nextCursor: string }
      for (const { name, type, stateVector } of page.changes) latest.set(name, { type, stateVector })
      if (page.changes.length === 0) return latest
      since = page.nextCursor
    }
  } catch {
    return null
  }
}

/** What `node` at `url` holds of every name in `names` and what it lists; null if it does not answer. */
export async function observeNode(node: string, url: string, names: Iterable<string>, token: string): Promise<NodeObservation | null> {
  const client = createDocsClient({ url, token, fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(10_000) }) })
  try {
    const listed = new Set<string>()
    for await (const summary of client.listAll()) listed.add(summary.name)
    const docs = new Map<string, DocObservation>()
    for (const name of names) docs.set(name, await observeDoc(client, name))
    return { node, listed, docs }
  } catch {
    return null
  }
}

async function observeDoc(client: ReturnType<typeof createDocsClient>, name: string): Promise<DocObservation> {
  try {
    const doc = new Y.Doc()
    Y.applyUpdate(doc, await client.readUpdate(name))
    const stateVector = Y.encodeStateVector(doc)
    // Against its own state vector an update holds no structs: only the whole delete set.
    const deleteSet = Y.encodeStateAsUpdate(doc, stateVector)
    const digest = createHash('sha256').update(stateVector).update(deleteSet).digest('hex')
    const markers = new Set(doc.getMap(markersMap).keys())
    doc.destroy()
    return { state: 'present', digest, markers, stateVector: Buffer.from(stateVector).toString('base64') }
  } catch (err) {
    if (err instanceof SyncmeshApiError && err.status === 410) return { state: 'deleted' }
    if (err instanceof SyncmeshApiError && err.status === 404) return { state: 'absent' }
    throw err
  }
}
