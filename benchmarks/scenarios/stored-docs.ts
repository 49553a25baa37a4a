import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import * as Y from 'yjs'
import { ChangeRecorder, defaultChangeRecorderOptions } from '../../src/changes/change-recorder.js'
import { DocStore } from '../../src/docs/doc-store.js'
import { DigestIndex } from '../../src/replication/digest-index.js'
import { createMetrics } from '../../src/metrics.js'
import { NodeStorage } from '../../src/storage/lmdb-env.js'
import { inBatches, sleep } from '../harness/clients.js'
import { memory, settle, type Memory } from '../harness/proc-stats.js'
import { RawReader } from '../harness/raw-reader.js'
import { startServer } from '../harness/servers.js'
import { percentile } from '../harness/stats.js'
import { idleReconciliationBytes as bytesWithNothingToRepair } from './idle-reconciliation.js'

export interface StoredDocsOptions {
  docs: number
  coldOpens: number
  listPages: number
}

export interface StoredDocsResult extends StoredDocsOptions {
  buildSeconds: number
  /** From spawning `syncmesh start` on the store until `/readyz` answers 200. */
  restartToReadyMs: number
  atRest: Memory
  /** Documents opened, not measured, between the first cold opens after the restart and the measured ones. */
  warmUpOpens: number
  /** Cold opens once the node has served `warmUpOpens` more since the first ones. */
  coldOpenP50Ms: number
  coldOpenP99Ms: number
  /** The first cold opens after the restart, while the node's code is still being compiled. */
  firstColdOpenP50Ms: number
  firstColdOpenP99Ms: number
  /** The same, on a second connection while the first holds the document in memory: the connection's own cost. */
  warmOpenP50Ms: number
  warmOpenP99Ms: number
  listP50Ms: number
  listMaxMs: number
  /** One reconciliation with a second node holding the same documents, both ways. */
  idleReconciliationBytes: number
}

const warmUpOpens = 1_000

/** Documents written into the store at once: one group commit each, bounded so the build's memory stays flat. */
const buildBatch = 5_000
const docName = (i: number) => `stored-${String(i).padStart(8, '0')}`

/**
 * A node holding `docs` stored documents, none in memory: how long it takes to come back, what it keeps resident,
 * and what opening and listing cost. The store is written straight through DocStore (the node's own write path,
 * with its validation and group commit) in the benchmark's process, not by a million REST calls.
 */
export async function runStoredDocs(options: StoredDocsOptions): Promise<StoredDocsResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'syncmesh-stored-docs-'))
  const storeCopy = mkdtempSync(join(tmpdir(), 'syncmesh-stored-docs-copy-'))
  try {
    const buildSeconds = await buildStore(dataDir, options.docs)
    copyFileSync(join(dataDir, 'data.mdb'), join(storeCopy, 'data.mdb'))
    const spawnedAt = performance.now()
    const server = await startServer('syncmesh', {}, { dataDir })
    try {
      const httpUrl = server.wsUrl.replace(/^ws/, 'http')
      while ((await fetch(`${httpUrl}/readyz`).catch(() => null))?.status !== 200) await sleep(5)
      const restartToReadyMs = performance.now() - spawnedAt
      await settle(server)
      const atRest = memory(server.pid)
      const opens = await coldOpens(server, options)
      const lists = await listPages(httpUrl, options.listPages)
      const idleReconciliationBytes = await bytesWithNothingToRepair(storeCopy, server, dataDir)
      return {
        ...options,
        buildSeconds,
        restartToReadyMs,
        atRest,
        warmUpOpens: opens.warmUpOpens,
        coldOpenP50Ms: percentile(opens.cold, 0.5),
        coldOpenP99Ms: percentile(opens.cold, 0.99),
        firstColdOpenP50Ms: percentile(opens.firstCold, 0.5),
        firstColdOpenP99Ms: percentile(opens.firstCold, 0.99),
        warmOpenP50Ms: percentile(opens.warm, 0.5),
        warmOpenP99Ms: percentile(opens.warm, 0.99),
        listP50Ms: percentile(lists, 0.5),
        listMaxMs: lists[lists.length - 1]!,
        idleReconciliationBytes,
      }
    } finally {
      await server.stop()
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(storeCopy, { recursive: true, force: true })
  }
}

async function buildStore(dataDir: string, docs: number): Promise<number> {
  const startedAt = performance.now()
  const storage = new NodeStorage({ path: dataDir })
  const log = pino({ level: 'silent' })
  const store = new DocStore(storage.docs, createMetrics(), log, { gate: () => ({ ok: true }), isDeleted: () => false })
  // As on a node, the writes' change-feed events are recorded and their digests computed and stored: without
  // them the restart would find every document marked changed and unrecorded, as after a crash the moment they
  // were written, and without a digest, and spend its first minute (at 10⁶) on them.
  const recorder = new ChangeRecorder(store, storage.changes, log, defaultChangeRecorderOptions)
  const digests = new DigestIndex(store, log)
  const doc = new Y.Doc()
  doc.clientID = 7
  const text = doc.getText('body')
  try {
    for (let first = 0; first < docs; first += buildBatch) {
      const writes: Promise<unknown>[] = []
      for (let i = first; i < Math.min(docs, first + buildBatch); i++) {
        text.delete(0, text.length)
        text.insert(0, `document ${i}`)
        writes.push(store.apply(docName(i), Y.encodeStateAsUpdate(doc), 'bench'))
      }
      const results = await Promise.all(writes)
      if (results.some((r) => !(r as { ok: boolean }).ok)) throw new Error('building the store: a write was refused')
    }
    await new Promise<void>((resolve) => digests.whenFresh(resolve))
  } finally {
    digests.close()
    await recorder.close()
    await store.close()
    await storage.close()
  }
  return (performance.now() - startedAt) / 1000
}

/**
 * Opens documents spread over the store, one at a time: a raw client's connection and sync step 1 until its sync
 * step 2, then a second connection to the same document, which is in memory now. First `count` right after the
 * restart, then `warmUpOpens` unmeasured, then the `count` measured ones; every document is opened cold once.
 */
async function coldOpens(
  server: Awaited<ReturnType<typeof startServer>>,
  { docs, coldOpens: count }: StoredDocsOptions,
): Promise<{ firstCold: Float64Array; warmUpOpens: number; cold: Float64Array; warm: Float64Array }> {
  const order = spreadOrder(docs)
  const open = async (name: string, times: Float64Array | null, k: number) => {
    const startedAt = performance.now()
    const reader = await RawReader.connect(server, name, () => {})
    if (times) times[k] = performance.now() - startedAt
    return reader
  }
  const openEach = async (indices: number[], cold: Float64Array | null, warm: Float64Array | null) =>
    inBatches([...indices.keys()], 1, async (k) => {
      const name = docName(indices[k]!)
      const first = await open(name, cold, k)
      const second = await open(name, warm, k)
      first.close()
      second.close()
    })
  const firstCold = new Float64Array(count)
  await openEach(order.splice(0, count), firstCold, null)
  const warmUp = order.splice(0, Math.max(0, Math.min(warmUpOpens, order.length - count)))
  await openEach(warmUp, null, null)
  const cold = new Float64Array(count)
  const warm = new Float64Array(count)
  await openEach(order.splice(0, count), cold, warm)
  return { firstCold: firstCold.sort(), warmUpOpens: warmUp.length, cold: cold.sort(), warm: warm.sort() }
}

/** Every document index once, in an order that spreads any prefix of it over the whole store (a fixed shuffle). */
function spreadOrder(docs: number): number[] {
  const order = [...Array(docs).keys()]
  let seed = 1
  for (let i = order.length - 1; i > 0; i--) {
    seed = (seed * 48271) % 2147483647
    const j = seed % (i + 1)
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  return order
}

/** Lists the store 1,000 names a page, following the cursor. */
async function listPages(httpUrl: string, pages: number): Promise<Float64Array> {
  const times: number[] = []
  let cursor: string | null = null
  for (let page = 0; page < pages; page++) {
    const startedAt = performance.now()
    const res = await fetch(`${httpUrl}/v1/docs?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    const body = (await res.json()) as { docs: unknown[]; nextCursor: string | null }
    times.push(performance.now() - startedAt)
    if (res.status !== 200 || body.docs.length === 0) throw new Error(`listing answered ${res.status} with ${body.docs.length} names`)
    cursor = body.nextCursor
    if (cursor === null) break
  }
  return Float64Array.from(times).sort()
}
