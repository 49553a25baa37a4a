import * as Y from 'yjs'
import { startProxiedCluster, type ClusterView, type ProxiedCluster } from '../../test/helpers/proxied-cluster.js'
import { closeAllProxies } from '../../test/helpers/tcp-proxy.js'
import { inBatches } from '../harness/clients.js'

export interface PartitionHealOptions {
  documents: number
  /** Concurrent REST writes while loading documents. */
  concurrency: number
}

export interface PartitionHealResult extends PartitionHealOptions {
  antiEntropyMs: number
  /** Heal (both proxies of every cut pair forward again) → every node reports the same whole-set fingerprint. */
  healToConvergedMs: number
  /** Bytes n1 sent to and received from its peers from the heal until convergence (live and anti-entropy). */
  n1BytesSent: number
  n1BytesReceived: number
}

const antiEntropyMs = 2_000

/**
 * Three `syncmesh start` processes whose peer links run through TCP proxies (the test harness's). Every
 * document is written once and replicated; then {n1} is cut off from {n2, n3}, every document is edited on
 * both sides (n1 and n2), and the cut heals. Time runs from the heal until all three nodes report the same
 * fingerprint over all their documents' digests — the moment every document is identical everywhere.
 */
export async function runPartitionHeal(options: PartitionHealOptions): Promise<PartitionHealResult> {
  const cluster = await startProxiedCluster({ antiEntropyMs })
  try {
    const names = Array.from({ length: options.documents }, (_, i) => `heal/${i}`)
    await writeAll(cluster, 'n1', names, options.concurrency, (name) => `${name} `)
    await waitForConvergence(cluster, options.documents)

    cluster.partition(['n1'], ['n2', 'n3'])
    await Promise.all([
      writeAll(cluster, 'n1', names, options.concurrency, () => 'left '),
      writeAll(cluster, 'n2', names, options.concurrency, () => 'right '),
    ])
    // Both sides settle (n2 and n3 reconcile with each other, digests computed) before the heal.
    await waitForConvergence(cluster, options.documents, ['n2', 'n3'])
    const before = linkBytes(await cluster.view('n1'))

    const healedAt = Date.now()
    cluster.heal()
    const convergedAt = await waitForConvergence(cluster, options.documents)
    const after = linkBytes(await cluster.view('n1'))
    return {
      ...options,
      antiEntropyMs,
      healToConvergedMs: convergedAt - healedAt,
      n1BytesSent: after.sent - before.sent,
      n1BytesReceived: after.received - before.received,
    }
  } finally {
    await cluster.close()
    await closeAllProxies()
  }
}

function linkBytes(view: ClusterView | null): { sent: number; received: number } {
  const peers = view?.peers ?? []
  return {
    sent: peers.reduce((sum, p) => sum + p.link.sentBytes, 0),
    received: peers.reduce((sum, p) => sum + p.link.receivedBytes, 0),
  }
}

async function writeAll(
  cluster: ProxiedCluster,
  id: string,
  names: string[],
  concurrency: number,
  text: (name: string) => string,
): Promise<void> {
  const url = cluster.node(id).url
  await inBatches(names, concurrency, async (name) => {
    const doc = new Y.Doc()
    doc.getText('body').insert(0, text(name))
    const res = await fetch(`${url}/v1/docs/${encodeURIComponent(name)}/update`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Y.encodeStateAsUpdate(doc),
    })
    if (res.status !== 204) throw new Error(`write to ${id} answered ${res.status}`)
  })
}

/** Waits until the nodes `ids` hold `documents` identical documents; returns when (epoch ms). */
async function waitForConvergence(cluster: ProxiedCluster, documents: number, ids = ['n1', 'n2', 'n3']): Promise<number> {
  await cluster.waitForIdenticalDocuments(ids, documents, { timeoutMs: 300_000, pollMs: 20 })
  return Date.now()
}
