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
  | { state: 'present'; digest: string; markers: ReadonlySet<string> }

export interface NodeObservation {
  node: string
  /** Every name the node lists. */
  listed: ReadonlySet<string>
  docs: ReadonlyMap<string, DocObservation>
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
    return { state: 'present', digest, markers }
  } catch (err) {
    if (err instanceof SyncmeshApiError && err.status === 410) return { state: 'deleted' }
    if (err instanceof SyncmeshApiError && err.status === 404) return { state: 'absent' }
    throw err
  }
}
