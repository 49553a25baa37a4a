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
