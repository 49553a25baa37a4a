import { cpSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import * as Y from 'yjs'
import { defaultDocStoreOptions } from '../../src/docs/doc-store.js'
import { buildDoc, readStoredUpdate, readStoredUpdates } from '../../src/docs/stored-updates.js'
import { versionDoc } from '../../src/history/version-content.js'
import { decodeVersionSnapshot, readVersions as readStoredVersions } from '../../src/history/version-records.js'
import { defaultHistoryOptions } from '../../src/history/start-history.js'
import { defaultNodeConfig, startNode, type NodeConfig, type SyncmeshNode } from '../../src/node.js'
import { NodeStorage } from '../../src/storage/lmdb-env.js'
import { median, percentile } from '../harness/stats.js'
import { textName, type PreparedTrace } from '../harness/trace.js'

export interface HistoryCostOptions {
  /** A named version is made after every this many updates of the trace. */
  versionEveryUpdates: number
  /** Restores of each of the oldest, middle and newest retained version, each on a fresh copy of the store. */
  restoreRounds: number
  /** Extra reads of each of the oldest, middle and newest retained version, after one read of every version. */
  readRounds: number
}

/** How the same replay is stored: without history, with the default retention, and keeping every version. */
export const historyVariants = ['none', 'default', 'every'] as const
export type HistoryVariant = (typeof historyVariants)[number]

/** Most versions a namespace may keep (server/config.ts bounds --history-keep-versions likewise). */
const keepEveryVersion = 10_000

const keepVersionsOf: Record<HistoryVariant, number> = {
  none: 0,
  default: defaultHistoryOptions.defaults.keepVersions,
  every: keepEveryVersion,
}

/** Median, p99 and max of some timings, in ms. */
export interface Timings {
  count: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

export type Positions<T> = Record<'oldest' | 'middle' | 'newest', T>

export interface HistoryVariantResult {
  variant: HistoryVariant
  keepVersions: number
  versionsMade: number
  versionsRetained: number
  /**
   * Retained versions the node answers 503 `version_incomplete` for, each as the updates of the trace it shows.
   * They are left out of the read and restore timings.
   */
  versionsIncomplete: number[]
  /** How many of those, rebuilt outside the node from its closed store (`versionDoc`), read as the trace's text. */
  incompleteButHeld: number
  /** The document's stored base and log (its meta's baseBytes + logBytes) once the replay is written. */
  docBytes: number
  /** The same of its history document. */
  historyBytes: number
  /** Size of the node's LMDB file (data.mdb) once it closed: live pages and the free pages LMDB reuses. */
  fileBytes: number
  /** Compactions of the document during the replay (and the one its last batch made due, run on closing). */
  compactions: number
  replaySeconds: number
  /** CPU of this process (the node, in process) per update replayed, versions included. */
  replayCpuMicrosPerUpdate: number
  create: Timings | null
  read: Timings | null
  /** Median ms of reads of the oldest, middle and newest retained version that reads. */
  readAt: Positions<number> | null
  /** Median ms of restores of those versions, each on a fresh copy of the store. */
  restoreAt: Positions<number> | null
  /** How many updates of the trace each of those versions shows. */
  updatesAt: Positions<number> | null
}

export interface HistoryCostResult extends HistoryCostOptions {
  trace: string
  concurrent: boolean
  updates: number
  totalTxns: number
  updateBytes: number
  compactAfterUpdates: number
  compactAfterBytes: number
  restoreRounds: number
  /** `Y.applyUpdate` of every update, one by one, into one fresh Y.Doc (gc on), in ms. */
  inProcessApplyMs: number
  /** The whole document encoded as one update: as Yjs's garbage collection leaves it, and with deleted content kept. */
  encodedGcBytes: number
  encodedNoGcBytes: number
  variants: HistoryVariantResult[]
}

const docName = 'history-cost'
const silentLog = pino({ level: 'silent' })

/**
 * The cost of version history on one editing trace: the trace is replayed into a node in this process (real LMDB in
 * a temp directory, the REST API on a real socket) once per variant, with a named version after every
 * `versionEveryUpdates` updates where history is on, and the default compaction thresholds. Then every retained
 * version is read over REST; the node is closed and its stored bytes counted; and each restore runs on a node
 * started on a fresh copy of that store, so that every restore starts from the replay's end state.
 */
export async function runHistoryCost(
  trace: PreparedTrace,
  options: HistoryCostOptions,
  progress: (what: string) => void = () => {},
): Promise<HistoryCostResult> {
  const expectedTexts = textsAtVersions(trace, options.versionEveryUpdates)
  const variants: HistoryVariantResult[] = []
  for (const variant of historyVariants) {
    progress(`version history: ${trace.name}, ${variant === 'none' ? 'without history' : `keeping ${keepVersionsOf[variant]} versions`}`)
    variants.push(await runVariant(trace, variant, expectedTexts, options))
  }
  return {
    ...options,
    trace: trace.name,
    concurrent: trace.concurrent,
    updates: trace.updates.length,
    totalTxns: trace.totalTxns,
    updateBytes: trace.updateBytes,
    compactAfterUpdates: defaultDocStoreOptions.compactAfterUpdates,
    compactAfterBytes: defaultDocStoreOptions.compactAfterBytes,
    ...inProcessReference(trace),
    variants,
  }
}

/** The text after each `every` updates: what version i (after (i + 1) · `every` updates) must read as. */
function textsAtVersions({ updates }: PreparedTrace, every: number): string[] {
  const doc = new Y.Doc()
  const texts: string[] = []
  updates.forEach((update, i) => {
    Y.applyUpdate(doc, update)
    if ((i + 1) % every === 0) texts.push(doc.getText(textName).toString())
  })
  doc.destroy()
  return texts
}

function inProcessReference({ updates, expectedText }: PreparedTrace) {
  const doc = new Y.Doc()
  const startedAt = performance.now()
  for (const update of updates) Y.applyUpdate(doc, update)
  const inProcessApplyMs = performance.now() - startedAt
  if (doc.getText(textName).toString() !== expectedText) throw new Error('in-process replay did not reach the expected text')
  // One by one: Y.mergeUpdates of a whole trace's updates takes minutes.
  const kept = new Y.Doc({ gc: false })
  kept.transact(() => {
    for (const update of updates) Y.applyUpdate(kept, update)
  })
  const result = { inProcessApplyMs, encodedGcBytes: Y.encodeStateAsUpdate(doc).byteLength, encodedNoGcBytes: Y.encodeStateAsUpdate(kept).byteLength }
  doc.destroy()
  kept.destroy()
  return result
}

interface MadeVersion {
  id: string
  /** Index into the expected texts: the version shows the first (index + 1) · every updates. */
  index: number
}

async function runVariant(
  trace: PreparedTrace,
  variant: HistoryVariant,
  expectedTexts: readonly string[],
  options: HistoryCostOptions,
): Promise<HistoryVariantResult> {
  const keepVersions = keepVersionsOf[variant]
  const dataDir = mkdtempSync(join(tmpdir(), `syncmesh-history-${variant}-`))
  try {
    const node = await startBenchNode(dataDir, keepVersions)
    let replayed: Awaited<ReturnType<typeof replay>>
    let reads: Awaited<ReturnType<typeof readVersions>> | null = null
    try {
      replayed = await replay(node, trace, keepVersions > 0 ? options.versionEveryUpdates : 0)
      if (keepVersions > 0) reads = await readVersions(node, replayed.made, expectedTexts, options.readRounds)
    } finally {
      await node.close()
    }
    // Read once the node is closed: closing runs the compaction the last batch made due.
    const compactions = (await node.metrics.compactions.get()).values[0]?.value ?? 0
    const stored = await storedBytes(dataDir)
    const incompleteButHeld = reads ? await rebuildsOutsideTheNode(dataDir, reads.incomplete, expectedTexts) : 0
    const restoreAt = reads && (await restores(dataDir, keepVersions, reads.readable, expectedTexts, options.restoreRounds))
    return {
      variant,
      keepVersions,
      versionsMade: replayed.made.length,
      versionsRetained: reads?.retained.length ?? 0,
      versionsIncomplete: reads?.incomplete.map((v) => (v.index + 1) * options.versionEveryUpdates) ?? [],
      incompleteButHeld,
      ...stored,
      compactions,
      replaySeconds: replayed.seconds,
      replayCpuMicrosPerUpdate: replayed.cpuMicros / trace.updates.length,
      create: replayed.createMs.length > 0 ? timings(replayed.createMs) : null,
      read: reads && timings(reads.allMs),
      readAt: reads && reads.atMs,
      restoreAt,
      updatesAt: reads && mapPositions(positionsOf(reads.readable), (v) => (v.index + 1) * options.versionEveryUpdates),
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

function startBenchNode(dataDir: string, keepVersions: number): Promise<SyncmeshNode> {
  const config: NodeConfig = {
    ...defaultNodeConfig,
    id: 'history-bench',
    port: 0,
    dataDir,
    // Only the versions the benchmark makes: no automatic ones.
    history: { quietMs: 0, intervalMs: 0, defaults: { keepVersions, keepDays: defaultHistoryOptions.defaults.keepDays } },
  }
  return startNode(config, silentLog)
}

/**
 * Writes the trace through DocStore, the node's one write path, `every` updates at a time (so one group commit
 * each), and makes a named version over REST after each such batch; 0 for none. The document is held open
 * throughout, as a live editor's session holds it: compaction and versions then encode it from memory.
 */
async function replay(node: SyncmeshNode, { updates }: PreparedTrace, every: number) {
  const batch = every > 0 ? every : 1_000
  const made: MadeVersion[] = []
  const createMs: number[] = []
  const handle = node.docs.open(docName)
  try {
    const cpuBefore = process.cpuUsage()
    const startedAt = performance.now()
    for (let first = 0; first < updates.length; first += batch) {
      const chunk = updates.slice(first, first + batch)
      const results = await Promise.all(chunk.map((update) => node.docs.apply(docName, update, 'bench')))
      const refused = results.find((r) => !r.ok)
      if (refused) throw new Error(`the node refused an update of the trace: ${JSON.stringify(refused)}`)
      if (every === 0 || chunk.length < batch) continue
      const index = made.length
      const requestedAt = performance.now()
      const res = await fetch(`${node.url}/v1/docs/${docName}/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ label: `after ${first + batch} updates` }),
      })
      const body = (await res.json()) as { id?: string }
      createMs.push(performance.now() - requestedAt)
      if (res.status !== 201 || body.id === undefined) throw new Error(`making a version answered ${res.status}: ${JSON.stringify(body)}`)
      made.push({ id: body.id, index })
    }
    await node.docs.whenWritten()
    const seconds = (performance.now() - startedAt) / 1000
    const cpu = process.cpuUsage(cpuBefore)
    return { made, createMs, seconds, cpuMicros: cpu.user + cpu.system }
  } finally {
    handle.release()
  }
}

/**
 * GET of each retained version's JSON once, checked against the trace's text; then `rounds` more of the oldest,
 * middle and newest of those that read. A version the node says it does not hold all of (503
 * `version_incomplete`) is counted, not timed.
 */
async function readVersions(node: SyncmeshNode, made: readonly MadeVersion[], expectedTexts: readonly string[], rounds: number) {
  // Held open, as during the replay: a version is read while its document is being edited.
  const handle = node.docs.open(docName)
  try {
    const listed = await fetch(`${node.url}/v1/docs/${docName}/versions`)
    const { versions } = (await listed.json()) as { versions: { id: string }[] }
    const ids = new Set(versions.map((v) => v.id))
    const retained = made.filter((v) => ids.has(v.id))
    if (retained.length !== versions.length) throw new Error(`listed ${versions.length} versions, ${retained.length} of them made by the benchmark`)
    const read = async (version: MadeVersion): Promise<number | 'incomplete'> => {
      const startedAt = performance.now()
      const res = await fetch(`${node.url}/v1/docs/${docName}/versions/${version.id}`)
      const body = (await res.json()) as Record<string, unknown> & { error?: { code?: string } }
      const ms = performance.now() - startedAt
      if (res.status === 503 && body.error?.code === 'version_incomplete') return 'incomplete'
      if (res.status !== 200 || body[textName] !== expectedTexts[version.index]) {
        throw new Error(`version ${version.id} (after ${version.index + 1} batches) read as ${res.status}, not the trace's text at that point`)
      }
      return ms
    }
    const allMs: number[] = []
    const readable: MadeVersion[] = []
    const incomplete: MadeVersion[] = []
    for (const version of retained) {
      const ms = await read(version)
      if (ms === 'incomplete') incomplete.push(version)
      else {
        allMs.push(ms)
        readable.push(version)
      }
    }
    const at = positionsOf(readable)
    const samples: Positions<number[]> = { oldest: [], middle: [], newest: [] }
    for (let round = 0; round < rounds; round++) {
      for (const position of ['oldest', 'middle', 'newest'] as const) samples[position].push((await read(at[position])) as number)
    }
    return { retained, readable, incomplete, allMs, atMs: mapPositions(samples, median) }
  } finally {
    handle.release()
  }
}

/** Each of the oldest, middle and newest of `versions` restored `rounds` times, every time on a fresh copy of the store. */
async function restores(
  dataDir: string,
  keepVersions: number,
  versions: readonly MadeVersion[],
  expectedTexts: readonly string[],
  rounds: number,
): Promise<Positions<number>> {
  const at = positionsOf(versions)
  const samples: Positions<number[]> = { oldest: [], middle: [], newest: [] }
  for (let round = 0; round < rounds; round++) {
    for (const position of ['oldest', 'middle', 'newest'] as const) {
      samples[position].push(await restoreOnCopy(dataDir, keepVersions, at[position], expectedTexts))
    }
  }
  return mapPositions(samples, median)
}

async function restoreOnCopy(dataDir: string, keepVersions: number, version: MadeVersion, expectedTexts: readonly string[]): Promise<number> {
  const copy = mkdtempSync(join(tmpdir(), 'syncmesh-history-restore-'))
  try {
    cpSync(dataDir, copy, { recursive: true })
    const node = await startBenchNode(copy, keepVersions)
    // Loaded before the clock starts, as an edited document is: the restore's own work is what is timed.
    const handle = node.docs.open(docName)
    try {
      const startedAt = performance.now()
      const res = await fetch(`${node.url}/v1/docs/${docName}/versions/${version.id}/restore`, { method: 'POST' })
      await res.arrayBuffer()
      const ms = performance.now() - startedAt
      if (res.status !== 200) throw new Error(`restoring version ${version.id} answered ${res.status}`)
      const now = (await (await fetch(`${node.url}/v1/docs/${docName}`)).json()) as Record<string, unknown>
      if (now[textName] !== expectedTexts[version.index]) throw new Error(`after restoring version ${version.id} the document does not read as it`)
      return ms
    } finally {
      handle.release()
      await node.close()
    }
  } finally {
    rmSync(copy, { recursive: true, force: true })
  }
}

/** What the store holds for the document and its history, read from the closed node's LMDB environment. */
async function storedBytes(dataDir: string): Promise<Pick<HistoryVariantResult, 'docBytes' | 'historyBytes' | 'fileBytes'>> {
  const storage = new NodeStorage({ path: dataDir })
  try {
    const bytes = (meta: { baseBytes: number; logBytes: number } | undefined) => (meta ? meta.baseBytes + meta.logBytes : 0)
    return {
      docBytes: bytes(storage.docs.getMeta(docName)),
      historyBytes: bytes(storage.history.getMeta(docName)),
      fileBytes: statSync(join(dataDir, 'data.mdb')).size,
    }
  } finally {
    await storage.close()
  }
}

/** The oldest, middle and newest of `items`, which are in creation order. */
/**
 * How many of `versions` the stored document does show as they were, though the node refused to read them: each
 * rebuilt as the node would (`versionDoc` of the stored document and the version's snapshot) and checked against
 * the trace's text.
 */
async function rebuildsOutsideTheNode(dataDir: string, versions: readonly MadeVersion[], expectedTexts: readonly string[]): Promise<number> {
  if (versions.length === 0) return 0
  const storage = new NodeStorage({ path: dataDir })
  const doc = buildDoc(docName, readStoredUpdates(storage.docs, docName)?.updates ?? [], silentLog)
  const history = new Y.Doc()
  try {
    Y.applyUpdate(history, readStoredUpdate(storage.history, docName, silentLog) ?? new Uint8Array([0, 0]))
    const records = new Map(readStoredVersions(history).map((record) => [record.id, record]))
    return versions.filter((version) => {
      const record = records.get(version.id)
      if (!record) return false
      const shown = versionDoc(doc, decodeVersionSnapshot(record))
      const held = shown.getText(textName).toString() === expectedTexts[version.index]
      shown.destroy()
      return held
    }).length
  } finally {
    doc.destroy()
    history.destroy()
    await storage.close()
  }
}

function positionsOf<T>(items: readonly T[]): Positions<T> {
  if (items.length === 0) throw new Error('no version to pick from')
  return { oldest: items[0]!, middle: items[Math.floor((items.length - 1) / 2)]!, newest: items[items.length - 1]! }
}

function mapPositions<T, R>(p: Positions<T>, f: (value: T) => R): Positions<R> {
  return { oldest: f(p.oldest), middle: f(p.middle), newest: f(p.newest) }
}

function timings(ms: readonly number[]): Timings {
  const sorted = [...ms].sort((a, b) => a - b)
  return { count: sorted.length, p50Ms: median(sorted), p99Ms: percentile(sorted, 0.99), maxMs: sorted[sorted.length - 1]! }
}
