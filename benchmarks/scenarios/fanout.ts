import * as Y from 'yjs'
import { connectSynced, inBatches, sleep, waitFor, type SyncClient } from '../harness/clients.js'
import { cpuTimeMicros } from '../harness/proc-stats.js'
import { RawReader } from '../harness/raw-reader.js'
import { startServer, type ServerKind } from '../harness/servers.js'
import { medianOfRuns, percentile } from '../harness/stats.js'
import { textName } from '../harness/trace.js'

export interface FanoutOptions {
  readers: number
  /** Writers that each make one insert per round, all in the same turn of the event loop. */
  writers: number
  /** Rounds of inserts. */
  updates: number
  spacingMs: number
}

/** One fan-out measurement against one server. */
export interface FanoutRun {
  minMs: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** Server CPU from the first send until the last reader had the last update. */
  serverCpuMs: number
  serverCpuMicrosPerDelivery: number
}

/** The median, field by field, of `runs` measurements against one server. */
export type FanoutServerResult = FanoutRun & { kind: ServerKind; runs: number }

export interface FanoutResult extends FanoutOptions {
  servers: FanoutServerResult[]
}

const connectConcurrency = 100
const deliveryTimeoutMs = 60_000

/** Measures `repeats` times against each server, alternating between them, and keeps the medians. */
export async function runFanout(options: FanoutOptions, kinds: readonly ServerKind[], repeats: number): Promise<FanoutResult> {
  const runs = new Map(kinds.map((kind) => [kind, [] as FanoutRun[]]))
  for (let i = 0; i < repeats; i++) {
    for (const kind of kinds) runs.get(kind)!.push(await measure(kind, options))
  }
  return { ...options, servers: kinds.map((kind) => ({ kind, runs: repeats, ...medianOfRuns(runs.get(kind)!) })) }
}

async function measure(kind: ServerKind, { readers, writers: writerCount, updates, spacingMs }: FanoutOptions): Promise<FanoutRun> {
  const server = await startServer(kind)
  const writers: SyncClient[] = []
  const rawReaders: RawReader[] = []
  try {
    const docName = 'fanout'
    for (let w = 0; w < writerCount; w++) writers.push(await connectSynced(server, docName))
    const texts = writers.map((writer) => writer.doc.getText(textName))
    const writerIndex = new Map(writers.map((writer, w) => [writer.doc.clientID, w]))
    // Each update inserts one character, so a writer's clock numbers its updates from here on.
    const firstClocks = writers.map((writer) => Y.getState(writer.doc.store, writer.doc.clientID))
    const perReader = writerCount * updates

    const sentAt = new Float64Array(updates)
    const receivedAt = new Float64Array(readers * perReader).fill(Number.NaN)
    let delivered = 0
    await inBatches([...Array(readers).keys()], connectConcurrency, async (r) => {
      const reader = await RawReader.connect(server, docName, (update) => {
        const now = performance.now()
        // A server may merge several updates, of several writers, into one message: credit every clock it covers.
        const { from, to } = Y.parseUpdateMeta(update)
        for (const [client, end] of to) {
          const w = writerIndex.get(client)
          if (w === undefined) continue
          const first = firstClocks[w]!
          const start = Math.max(from.get(client) ?? 0, first) - first
          const stop = Math.min(end - first, updates)
          for (let seq = start; seq < stop; seq++) {
            const slot = r * perReader + w * updates + seq
            if (!Number.isNaN(receivedAt[slot]!)) continue
            receivedAt[slot] = now
            delivered++
          }
        }
      })
      rawReaders.push(reader)
    })
    await sleep(1_000)

    const cpuBefore = cpuTimeMicros(server.pid)
    for (let seq = 0; seq < updates; seq++) {
      sentAt[seq] = performance.now()
      for (const text of texts) text.insert(text.length, 'x')
      await sleep(spacingMs)
    }
    const total = readers * perReader
    await waitFor(`${kind} to deliver every update to every reader`, () => delivered === total, deliveryTimeoutMs)
    const serverCpuMicros = cpuTimeMicros(server.pid) - cpuBefore

    const latencies = new Float64Array(total)
    for (let i = 0; i < total; i++) latencies[i] = receivedAt[i]! - sentAt[i % updates]!
    latencies.sort()
    return {
      minMs: latencies[0]!,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies[total - 1]!,
      serverCpuMs: serverCpuMicros / 1000,
      serverCpuMicrosPerDelivery: serverCpuMicros / total,
    }
  } finally {
    for (const reader of rawReaders) reader.close()
    for (const writer of writers) writer.destroy()
    await server.stop()
  }
}
