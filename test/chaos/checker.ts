import * as Y from 'yjs'
import type { AckLog } from './ack-log.js'
import type { DocObservation, FeedObservation, NodeObservation } from './observe.js'

export interface Verdict {
  /** Acknowledged writes missing from at least one node, in documents not deleted. */
  lost: number
  /** Acknowledged deletions with data, or a listing, on at least one node. */
  resurrected: number
  /** Documents not the same on every node (or listed by some and not others). */
  divergent: number
  /** A few of each, for the report. */
  examples: string[]
}

const maxExamples = 10

/** Compares what the cluster acknowledged with what every node holds at the end. Pure. */
export function checkCluster(acks: Pick<AckLog, 'writes' | 'deletions'>, nodes: readonly NodeObservation[]): Verdict {
  const verdict: Verdict = { lost: 0, resurrected: 0, divergent: 0, examples: [] }
  const note = (line: string) => verdict.examples.length < maxExamples && verdict.examples.push(line)
  const names = new Set([...acks.writes.keys(), ...acks.deletions, ...nodes.flatMap((n) => [...n.docs.keys(), ...n.listed])])
  const seen = (node: NodeObservation, name: string): DocObservation => node.docs.get(name) ?? { state: 'absent' }

  for (const name of names) {
    const views = nodes.map((node) => ({ node: node.node, doc: seen(node, name), listed: node.listed.has(name) }))
    const kinds = new Set(views.map(({ doc, listed }) => `${doc.state === 'present' ? doc.digest : doc.state}/${listed}`))
    if (kinds.size > 1) {
      verdict.divergent++
      note(`divergent ${name}: ${views.map((v) => `${v.node}=${v.doc.state === 'present' ? v.doc.digest.slice(0, 8) : v.doc.state}${v.listed ? '' : ' (unlisted)'}`).join(' ')}`)
    }
    const deletedSomewhere = views.some((v) => v.doc.state === 'deleted')
    if (acks.deletions.has(name)) {
      const back = views.filter((v) => v.doc.state !== 'deleted' || v.listed)
      if (back.length > 0) {
        verdict.resurrected++
        note(`resurrected ${name} on ${back.map((v) => v.node).join(',')}`)
      }
    } else if (!deletedSomewhere) {
      for (const key of acks.writes.get(name) ?? []) {
        const missing = views.filter((v) => v.doc.state !== 'present' || !v.doc.markers.has(key))
        if (missing.length > 0) {
          verdict.lost++
          note(`lost ${name} ${key} on ${missing.map((v) => v.node).join(',')}`)
        }
      }
    }
  }
  return verdict
}

/** True once every node answers the same for every name: the replicas have converged. */
export function converged(nodes: readonly NodeObservation[]): boolean {
  return checkCluster({ writes: new Map(), deletions: new Set() }, nodes).divergent === 0
}

/**
 * Changes a node's change feed does not tell of: a document the node holds whose latest event is not `updated`
 * with the document's state vector (or that has none), or one it deleted whose latest event is not `deleted` —
 * where the feed tells of the document at all: a node that never held a document has no event for its
 * deletion. Pure.
 */
export function checkFeeds(nodes: readonly NodeObservation[], feeds: ReadonlyMap<string, FeedObservation>): { missed: number; examples: string[] } {
  const examples: string[] = []
  let missed = 0
  for (const node of nodes) {
    const feed = feeds.get(node.node)
    for (const [name, doc] of node.docs) {
      const latest = feed?.get(name)
      const told =
        doc.state === 'present'
          ? latest?.type === 'updated' && latest.stateVector === doc.stateVector
          : doc.state !== 'deleted' || latest === undefined || latest.type === 'deleted'
      if (told) continue
      missed++
      if (examples.length < maxExamples) {
        examples.push(`change feed of ${node.node}: ${name} is ${doc.state}, its latest event ${latest ? `${latest.type} ${latest.stateVector ?? ''}`.trim() : 'none'}`)
      }
    }
  }
  return { missed, examples }
}

/** One delivery a webhook receiver accepted: its kind, document and state vector (base64; null for a deletion). */
export interface AcceptedDelivery {
  type: 'document.updated' | 'document.deleted'
  name: string
  stateVector: string | null
}

/**
 * Changes the webhook was never sent: a document the nodes hold (they have converged: the first node speaks for
 * all) with an update that no accepted delivery's state vector includes, or a deleted one, once written, whose
 * deletion no delivery told of. Deliveries sent more than once are counted too, as `duplicates` (allowed: at
 * least once). Pure.
 */
export function checkWebhook(
  node: NodeObservation,
  written: ReadonlySet<string>,
  accepted: readonly AcceptedDelivery[],
): { missed: number; duplicates: number; examples: string[] } {
  const clocks = new Map<string, Map<number, number>>()
  const deletions = new Set<string>()
  const ids = new Set<string>()
  let duplicates = 0
  for (const delivery of accepted) {
    const id = `${delivery.type} ${delivery.name} ${delivery.stateVector}`
    if (ids.has(id)) duplicates++
    ids.add(id)
    if (delivery.type === 'document.deleted') deletions.add(delivery.name)
    else if (delivery.stateVector !== null) {
      const merged = clocks.get(delivery.name) ?? new Map<number, number>()
      for (const [client, clock] of Y.decodeStateVector(Buffer.from(delivery.stateVector, 'base64'))) merged.set(client, Math.max(clock, merged.get(client) ?? 0))
      clocks.set(delivery.name, merged)
    }
  }
  const examples: string[] = []
  let missed = 0
  for (const [name, doc] of node.docs) {
    let told = true
    if (doc.state === 'present') {
      const delivered = clocks.get(name) ?? new Map<number, number>()
      told = [...Y.decodeStateVector(Buffer.from(doc.stateVector, 'base64'))].every(([client, clock]) => clock <= (delivered.get(client) ?? 0))
    } else if (doc.state === 'deleted' && written.has(name)) told = deletions.has(name)
    if (told) continue
    missed++
    if (examples.length < maxExamples) examples.push(`webhook: ${name} is ${doc.state} on ${node.node}, and no delivery told of all of it`)
  }
  return { missed, duplicates, examples }
}
