import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { sleep, waitFor } from '../harness/clients.js'
import { percentile } from '../harness/stats.js'
import { startSyncmeshCluster } from '../harness/syncmesh-cluster.js'

export interface PropagationOptions {
  updates: number
  spacingMs: number
}

export interface PropagationResult extends PropagationOptions {
  sameNode: { p50Ms: number; p99Ms: number }
  crossNode: { p50Ms: number; p99Ms: number }
}

/**
 * Three `syncmesh start` processes; one writer on n1, one reader on n1 and one on n2, all stock
 * `WebsocketProvider`s. The writer appends one character per update, so a reader's text length tells which
 * updates it holds. Latency is send → the reader's update event, for the reader on the writer's node and the
 * one on another node (live fan-out over the peer link, plus that node's own fsync before it broadcasts).
 */
export async function runPropagation(options: PropagationOptions): Promise<PropagationResult> {
  const cluster = await startSyncmeshCluster('default')
  const providers: WebsocketProvider[] = []
  const connect = async (url: string) => {
    const doc = new Y.Doc()
    const provider = new WebsocketProvider(url.replace(/^http/, 'ws'), 'propagation', doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
    })
    providers.push(provider)
    await waitFor('a client to sync', () => provider.synced)
    return doc
  }
  try {
    const [n1, n2] = cluster.members
    const writer = await connect(n1!.url)
    const readers = { sameNode: await connect(n1!.url), crossNode: await connect(n2!.url) }
    const sentAt = new Float64Array(options.updates)
    const arrivals = {
      sameNode: new Float64Array(options.updates).fill(Number.NaN),
      crossNode: new Float64Array(options.updates).fill(Number.NaN),
    }
    for (const side of ['sameNode', 'crossNode'] as const) {
      const text = readers[side].getText('body')
      let next = 0
      readers[side].on('update', () => {
        const now = performance.now()
        while (next < Math.min(text.length, options.updates)) arrivals[side][next++] = now
      })
    }
    const text = writer.getText('body')
    for (let i = 0; i < options.updates; i++) {
      sentAt[i] = performance.now()
      text.insert(text.length, 'x')
      await sleep(options.spacingMs)
    }
    await waitFor('every update at both readers', () =>
      Object.values(arrivals).every((a) => a.every((t) => !Number.isNaN(t))),
    )
    const latencies = (side: keyof typeof arrivals) => {
      const sorted = Float64Array.from(arrivals[side], (t, i) => t - sentAt[i]!).sort()
      return { p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) }
    }
    return { ...options, sameNode: latencies('sameNode'), crossNode: latencies('crossNode') }
  } finally {
    for (const provider of providers) {
      provider.destroy()
      provider.doc.destroy()
    }
    await cluster.stop()
  }
}
