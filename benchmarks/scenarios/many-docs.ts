import { connectSynced, inBatches, sleep, type SyncClient } from '../harness/clients.js'
import { memory, settle, type Memory } from '../harness/proc-stats.js'
import { startServer, type ServerKind, type ServerProcess } from '../harness/servers.js'
import { medianOfRuns } from '../harness/stats.js'
import { textName } from '../harness/trace.js'

export interface ManyDocsOptions {
  docs: number
  /**
   * When, counted from the last client's connection, RSS is sampled for the steady state. V8 keeps the heap
   * it grew while the clients arrived until its memory reducer runs, which on this machine took 30–50 s.
   */
  steadyFromMs: number
  steadyUntilMs: number
}

export interface ManyDocsServerResult {
  kind: ServerKind
  /** As soon as the started server is quiet. */
  idleAtStart: Memory
  /** Median of the samples taken in the steady-state window after start, before any client: the baseline per document. */
  idle: Memory
  /** As soon as the server is quiet after the last connection. */
  afterConnect: Memory
  /** Median of the samples taken in the steady-state window. */
  steady: Memory
  rssBytesPerDoc: number
  anonBytesPerDoc: number
  connectSeconds: number
}

export interface ManyDocsResult extends ManyDocsOptions {
  servers: ManyDocsServerResult[]
}

const connectConcurrency = 50
const sampleEveryMs = 5_000
/** Documents reopened by a fresh client at the end, to check that the edits really reached the server. */
const spotChecks = 5

const docName = (i: number) => `many-docs-${i}`
const editOf = (i: number) => `edit of document ${i}`

export async function runManyDocs(options: ManyDocsOptions, kinds: readonly ServerKind[]): Promise<ManyDocsResult> {
  const servers: ManyDocsServerResult[] = []
  for (const kind of kinds) servers.push(await measure(kind, options))
  return { ...options, servers }
}

async function measure(kind: ServerKind, { docs, steadyFromMs, steadyUntilMs }: ManyDocsOptions): Promise<ManyDocsServerResult> {
  const server = await startServer(kind)
  const clients: SyncClient[] = []
  // Each WebsocketProvider adds a process 'exit' listener of its own.
  process.setMaxListeners(Math.max(process.getMaxListeners(), docs + spotChecks + 10))
  try {
    await settle(server)
    const settledAt = performance.now()
    const idleAtStart = memory(server.pid)
    // V8's memory reducer also shrinks the heap the idle server grew while starting, in the same window as the
    // steady state: a baseline taken before it would credit that shrinking to the documents.
    const idle = await steadyState(server, settledAt, steadyFromMs, steadyUntilMs)

    const startedAt = performance.now()
    await inBatches([...Array(docs).keys()], connectConcurrency, async (i) => {
      const client = await connectSynced(server, docName(i))
      clients.push(client)
      client.doc.getText(textName).insert(0, editOf(i))
    })
    const connectedAt = performance.now()
    const connectSeconds = (connectedAt - startedAt) / 1000
    await settle(server)
    const afterConnect = memory(server.pid)
    const steady = await steadyState(server, connectedAt, steadyFromMs, steadyUntilMs)

    await checkEdits(server, docs)
    return {
      kind,
      idleAtStart,
      idle,
      afterConnect,
      steady,
      rssBytesPerDoc: (steady.rssBytes - idle.rssBytes) / docs,
      anonBytesPerDoc: (steady.anonBytes - idle.anonBytes) / docs,
      connectSeconds,
    }
  } finally {
    for (const client of clients) client.destroy()
    await server.stop()
  }
}

/** The median of memory samples every sampleEveryMs from `fromMs` to `untilMs` after `since`. */
async function steadyState(server: ServerProcess, since: number, fromMs: number, untilMs: number): Promise<Memory> {
  const samples: Memory[] = []
  for (let at = fromMs; at <= untilMs; at += sampleEveryMs) {
    await sleep(since + at - performance.now())
    samples.push(memory(server.pid))
  }
  return medianOfRuns(samples)
}

async function checkEdits(server: ServerProcess, docs: number): Promise<void> {
  for (let k = 0; k < spotChecks; k++) {
    const i = Math.floor((k * (docs - 1)) / (spotChecks - 1))
    const client = await connectSynced(server, docName(i))
    const text = client.doc.getText(textName).toString()
    client.destroy()
    if (text !== editOf(i)) throw new Error(`${server.kind}: document ${i} holds ${JSON.stringify(text)}, not its edit`)
  }
}
