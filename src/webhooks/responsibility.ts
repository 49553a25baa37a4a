import { createHash } from 'node:crypto'

/**
 * The node responsible for delivering a webhook's events, among the nodes that can currently be reached: the one
 * that ranks highest for this webhook (rendezvous hashing). Nodes that see the same reachable set agree without
 * talking; when the responsible node leaves or dies, only its webhooks move, each to the next in its own ranking.
 * Null when `nodes` is empty.
 */
export function responsibleNode(webhookId: string, nodes: Iterable<string>): string | null {
  let best: string | null = null
  let bestRank = ''
  for (const node of nodes) {
    const rank = createHash('sha256').update(webhookId).update('\0').update(node).digest('hex')
    // Ties are impossible in practice; breaking them by id keeps the answer independent of iteration order.
    if (best === null || rank > bestRank || (rank === bestRank && node > best)) {
      best = node
      bestRank = rank
    }
  }
  return best
}
