import { Agent, request } from 'node:http'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { encodeDurableQuery, encodeSyncUpdate } from '../../src/protocol/y-websocket.js'
import { inBatches } from '../harness/clients.js'
import { cpuTimeMicros } from '../harness/proc-stats.js'
import { startServer } from '../harness/servers.js'
import { medianOfRuns, percentile } from '../harness/stats.js'

export interface RestWritesOptions {
  clients: number
  /** Writes per client before the measured ones (connections open, code compiled). */
  warmupWrites: number
  writesPerClient: number
}

/** One path's figures: every write answered once durable (REST 204, or the durability query's answer). */
export interface WritePathRun {
  writesPerSecond: number
  p50Ms: number
  p99Ms: number
  serverCpuMicrosPerWrite: number
}

export interface RestWritesResult extends RestWritesOptions {
  runs: number
  rest: WritePathRun
  websocket: WritePathRun
}

type Path = 'rest' | 'websocket'
const durableMessage = 64

/**
 * The same one-character updates written by `clients` concurrent clients, each to a document of its own and each
 * waiting for the answer before its next write: once as REST `POST /v1/docs/:name/update` (answered 204 when
 * durable), once over WebSocket (a sync update, then a durability query, answered when durable).
 */
export async function runRestWrites(options: RestWritesOptions, repeats: number): Promise<RestWritesResult> {
  const runs: Record<Path, WritePathRun[]> = { rest: [], websocket: [] }
  for (let i = 0; i < repeats; i++) {
    for (const path of ['rest', 'websocket'] as const) runs[path].push(await measure(path, options))
  }
  return { ...options, runs: repeats, rest: medianOfRuns(runs.rest), websocket: medianOfRuns(runs.websocket) }
}

/** One client's updates: each inserts one character at the end, as an editor's keystroke does. */
function updatesOf(client: number, count: number): Uint8Array[] {
  const doc = new Y.Doc()
  doc.clientID = 1_000 + client
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  const text = doc.getText('body')
  for (let i = 0; i < count; i++) text.insert(text.length, 'x')
  return updates
}

interface Writer {
  write(update: Uint8Array): Promise<void>
  close(): void
}

async function measure(path: Path, { clients, warmupWrites, writesPerClient }: RestWritesOptions): Promise<WritePathRun> {
  const server = await startServer('syncmesh')
  const agent = new Agent({ keepAlive: true, maxSockets: clients })
  const writers: Writer[] = []
  try {
    const httpUrl = server.wsUrl.replace(/^ws/, 'http')
    writers.push(
      ...(await inBatches([...Array(clients).keys()], clients, (c) =>
        path === 'rest' ? restWriter(httpUrl, `rest-${c}`, agent) : websocketWriter(server.wsUrl, `rest-${c}`),
      )),
    )
    const updates = writers.map((_, c) => updatesOf(c, warmupWrites + writesPerClient))
    await Promise.all(writers.map(async (writer, c) => {
      for (const update of updates[c]!.slice(0, warmupWrites)) await writer.write(update)
    }))

    const latencies: number[] = []
    const cpuBefore = cpuTimeMicros(server.pid)
    const startedAt = performance.now()
    await Promise.all(writers.map(async (writer, c) => {
      for (const update of updates[c]!.slice(warmupWrites)) {
        const sentAt = performance.now()
        await writer.write(update)
        latencies.push(performance.now() - sentAt)
      }
    }))
    const seconds = (performance.now() - startedAt) / 1000
    const writes = clients * writesPerClient
    const serverCpuMicros = cpuTimeMicros(server.pid) - cpuBefore
    const sorted = Float64Array.from(latencies).sort()
    return {
      writesPerSecond: writes / seconds,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      serverCpuMicrosPerWrite: serverCpuMicros / writes,
    }
  } finally {
    for (const writer of writers) writer.close()
    agent.destroy()
    await server.stop()
  }
}

async function restWriter(baseUrl: string, docName: string, agent: Agent): Promise<Writer> {
  const url = new URL(`/v1/docs/${encodeURIComponent(docName)}/update`, baseUrl)
  return {
    write: (update) =>
      new Promise((resolve, reject) => {
        const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': update.byteLength } }, (res) => {
          res.resume()
          res.once('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`REST write answered ${res.statusCode}`))))
        })
        req.once('error', reject)
        req.end(update)
      }),
    close: () => {},
  }
}

async function websocketWriter(wsUrl: string, docName: string): Promise<Writer> {
  const ws = new WebSocket(`${wsUrl}/${encodeURIComponent(docName)}`, { perMessageDeflate: false })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const doc = new Y.Doc()
  const answers = new Map<number, () => void>()
  // The node's answer to a durability query is [64, id]; everything else (its sync step 1) is not waited for.
  ws.on('message', (data: Buffer) => {
    const decoder = decoding.createDecoder(data)
    if (decoding.readVarUint(decoder) === durableMessage) answers.get(decoding.readVarUint(decoder))?.()
  })
  let next = 0
  return {
    write: (update) =>
      new Promise((resolve) => {
        Y.applyUpdate(doc, update)
        const id = next++
        answers.set(id, () => {
          answers.delete(id)
          resolve()
        })
        ws.send(encodeSyncUpdate(update))
        ws.send(encodeDurableQuery(id, Y.encodeStateVector(doc)))
      }),
    close: () => ws.terminate(),
  }
}
