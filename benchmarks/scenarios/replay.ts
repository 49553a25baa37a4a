import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import * as Y from 'yjs'
import { connectSynced, type SyncClient } from '../harness/clients.js'
import { cpuTimeMicros } from '../harness/proc-stats.js'
import { startServer, type ServerKind, type ServerProcess } from '../harness/servers.js'
import { median, medianOfRuns } from '../harness/stats.js'
import { textName, type PreparedTrace } from '../harness/trace.js'

/** One replay against one server. */
export interface ReplayRun {
  seconds: number
  opsPerSecond: number
  serverCpuMicrosPerUpdate: number
  /** CPU of this (load generator) process per update, to show it was not the limit. */
  clientCpuMicrosPerUpdate: number
  /** Update messages the reader received; fewer than the updates sent when the server batches. */
  readerMessages: number
  /**
   * The same replay into another document just before, the first the fresh server process saw: its CPU per
   * update holds the JIT warm-up of the server's code, which the in-process figure (measured in this warm
   * process) does not. The other fields are the second replay's.
   */
  firstReplayCpuMicrosPerUpdate: number
  firstReplayOpsPerSecond: number
}

/** The median, field by field, of `runs` replays against one server. */
export type ReplayServerResult = ReplayRun & { kind: ServerKind; runs: number }

export interface ReplayResult {
  trace: string
  concurrent: boolean
  /** Transactions of the trace replayed (one update each), out of `totalTxns`. */
  updates: number
  totalTxns: number
  updateBytes: number
  /** In-process ceiling: applying the same updates to one fresh Y.Doc. */
  ceilingOpsPerSecond: number
  servers: ReplayServerResult[]
}

/** Updates the writer applies between yields to the event loop, so its socket can drain. */
const chunk = 2_000
const timeoutMs = 5 * 60_000

/** Replays `repeats` times against each server, alternating between them, and keeps the medians. */
export async function runReplay(trace: PreparedTrace, kinds: readonly ServerKind[], repeats: number): Promise<ReplayResult> {
  const ceilings: number[] = []
  const runs = new Map(kinds.map((kind) => [kind, [] as ReplayRun[]]))
  for (let i = 0; i < repeats; i++) {
    ceilings.push(measureCeiling(trace))
    for (const kind of kinds) runs.get(kind)!.push(await replayAgainst(kind, trace))
  }
  const servers = kinds.map((kind) => ({ kind, runs: repeats, ...medianOfRuns(runs.get(kind)!) }))
  const ceilingOpsPerSecond = median(ceilings)
  return {
    trace: trace.name,
    concurrent: trace.concurrent,
    updates: trace.updates.length,
    totalTxns: trace.totalTxns,
    updateBytes: trace.updateBytes,
    ceilingOpsPerSecond,
    servers,
  }
}

function measureCeiling({ updates, expectedText }: PreparedTrace): number {
  const doc = new Y.Doc()
  const startedAt = performance.now()
  for (const update of updates) Y.applyUpdate(doc, update)
  const seconds = (performance.now() - startedAt) / 1000
  if (doc.getText(textName).toString() !== expectedText) throw new Error('in-process replay did not reach the expected text')
  doc.destroy()
  return updates.length / seconds
}

async function replayAgainst(kind: ServerKind, trace: PreparedTrace): Promise<ReplayRun> {
  // The writer replays a whole editing session as fast as it can: far past a person's rate, which syncmesh's
  // default per-connection rate limit is set for.
  const server = await startServer(kind, { SYNCMESH_MAX_CLIENT_MESSAGES_PER_SECOND: '0', SYNCMESH_MAX_CLIENT_BYTES_PER_SECOND: '0' })
  try {
    const first = await replayInto(server, kind, `replay-first-${Date.now()}`, trace)
    const second = await replayInto(server, kind, `replay-${Date.now()}`, trace)
    return { ...second, firstReplayCpuMicrosPerUpdate: first.serverCpuMicrosPerUpdate, firstReplayOpsPerSecond: first.opsPerSecond }
  } finally {
    await server.stop()
  }
}

type Replayed = Omit<ReplayRun, 'firstReplayCpuMicrosPerUpdate' | 'firstReplayOpsPerSecond'>

async function replayInto(
  server: ServerProcess,
  kind: ServerKind,
  docName: string,
  { updates, expectedText }: PreparedTrace,
): Promise<Replayed> {
  const clients: SyncClient[] = []
  try {
    const writer = await connectSynced(server, docName)
    clients.push(writer)
    const reader = await connectSynced(server, docName)
    clients.push(reader)

    const readerText = reader.doc.getText(textName)
    let readerMessages = 0
    let timer: NodeJS.Timeout | undefined
    const finished = new Promise<number>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`replay on ${kind} did not finish in ${timeoutMs} ms`)), timeoutMs)
      reader.doc.on('update', () => {
        readerMessages++
        // Length first: it is O(1), while toString walks the whole text.
        if (readerText.length === expectedText.length && readerText.toString() === expectedText) resolve(performance.now())
      })
    })

    const cpuBefore = cpuTimeMicros(server.pid)
    const clientCpuBefore = process.cpuUsage()
    const startedAt = performance.now()
    for (let i = 0; i < updates.length; i++) {
      Y.applyUpdate(writer.doc, updates[i]!)
      if (i % chunk === chunk - 1) await yieldToEventLoop()
    }
    const finishedAt = await finished.finally(() => clearTimeout(timer))
    const serverCpuMicros = cpuTimeMicros(server.pid) - cpuBefore
    const clientCpu = process.cpuUsage(clientCpuBefore)

    const seconds = (finishedAt - startedAt) / 1000
    return {
      seconds,
      opsPerSecond: updates.length / seconds,
      serverCpuMicrosPerUpdate: serverCpuMicros / updates.length,
      clientCpuMicrosPerUpdate: (clientCpu.user + clientCpu.system) / updates.length,
      readerMessages,
    }
  } finally {
    for (const client of clients) client.destroy()
  }
}
