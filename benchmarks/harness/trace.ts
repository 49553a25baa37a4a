import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import * as Y from 'yjs'
import { tracesDir } from './paths.js'

/** Formats in ../shared/traces/README.md. */
type Patch = [pos: number, deleted: number, inserted: string]

interface SequentialTrace {
  kind?: undefined
  endContent: string
  txns: { patches: Patch[] }[]
}

interface ConcurrentTrace {
  kind: 'concurrent'
  endContent: string
  numAgents: number
  /** Each txn's patches are relative to the version its parents make together. */
  txns: { parents: number[]; agent: number; patches: Patch[] }[]
}

export interface PreparedTrace {
  /** The file's name without `.json.gz`. */
  name: string
  concurrent: boolean
  /** Transactions in the whole trace; `updates` may cover only a prefix. */
  totalTxns: number
  /** One v1 update per transaction replayed, as the local Y.Doc of its author emitted it, in trace order. */
  updates: Uint8Array[]
  updateBytes: number
  /** The text after those transactions: `endContent` for the whole trace. */
  expectedText: string
}

/** Name of the Y.Text every benchmark client edits. */
export const textName = 't'

/**
 * Every update carries its client id as a varint, so a random id would change the updates' total size from run
 * to run; a fixed one of the usual length (5 bytes, like most random 32-bit ids) keeps the work the same.
 */
const traceClientId = 0x9e3779b9

/** Every trace in ../shared/traces, at most `limit` transactions of each. */
export function prepareTraces(limit: number): PreparedTrace[] {
  return readdirSync(tracesDir)
    .filter((file) => file.endsWith('.json.gz'))
    .sort()
    .map((file) => {
      const trace = JSON.parse(gunzipSync(readFileSync(join(tracesDir, file))).toString('utf8')) as SequentialTrace | ConcurrentTrace
      const name = file.slice(0, -'.json.gz'.length)
      const prepared = trace.kind === 'concurrent' ? prepareConcurrent(trace, limit) : prepareSequential(trace, limit)
      return { name, totalTxns: trace.txns.length, updateBytes: prepared.updates.reduce((sum, u) => sum + u.byteLength, 0), ...prepared }
    })
}

type Prepared = Pick<PreparedTrace, 'concurrent' | 'updates' | 'expectedText'>

function prepareSequential(trace: SequentialTrace, limit: number): Prepared {
  const txns = trace.txns.slice(0, limit)
  const doc = new Y.Doc()
  doc.clientID = traceClientId
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  for (const { patches } of txns) applyPatches(doc, patches)
  const expectedText = txns.length === trace.txns.length ? trace.endContent : replayAsString(txns)
  if (doc.getText(textName).toString() !== expectedText) throw new Error('local replay of the trace does not match its expected text')
  doc.destroy()
  return { concurrent: false, updates, expectedText }
}

/**
 * One Y.Doc per agent. Before each of its txns, an agent's doc takes every txn of the txn's causal history that it
 * lacks, oldest first, so that it holds exactly the version the patches are relative to.
 */
function prepareConcurrent(trace: ConcurrentTrace, limit: number): Prepared {
  const txns = trace.txns.slice(0, limit)
  const agents = Array.from({ length: trace.numAgents }, (_, agent) => {
    const doc = new Y.Doc()
    doc.clientID = traceClientId + agent
    return { doc, has: new Uint8Array(txns.length) }
  })
  const updates: Uint8Array[] = []
  txns.forEach(({ parents, agent, patches }, i) => {
    const { doc, has } = agents[agent]!
    const missing: number[] = []
    const stack = [...parents]
    while (stack.length > 0) {
      const txn = stack.pop()!
      if (has[txn]) continue
      has[txn] = 1
      missing.push(txn)
      stack.push(...txns[txn]!.parents)
    }
    for (const txn of missing.sort((a, b) => a - b)) Y.applyUpdate(doc, updates[txn]!)
    let own: Uint8Array | undefined
    const keep = (update: Uint8Array) => (own = update)
    doc.on('update', keep)
    applyPatches(doc, patches)
    doc.off('update', keep)
    if (!own) throw new Error(`txn ${i} of the trace changed nothing`)
    updates.push(own)
    has[i] = 1
  })
  const merged = new Y.Doc()
  for (const update of updates) Y.applyUpdate(merged, update)
  const expectedText = merged.getText(textName).toString()
  if (txns.length === trace.txns.length && expectedText !== trace.endContent) {
    throw new Error('local replay of the concurrent trace does not match its endContent')
  }
  for (const { doc } of agents) doc.destroy()
  merged.destroy()
  return { concurrent: true, updates, expectedText }
}

function applyPatches(doc: Y.Doc, patches: readonly Patch[]): void {
  const text = doc.getText(textName)
  doc.transact(() => {
    for (const [pos, deleted, inserted] of patches) {
      if (deleted > 0) text.delete(pos, deleted)
      if (inserted.length > 0) text.insert(pos, inserted)
    }
  })
}

function replayAsString(txns: readonly { patches: Patch[] }[]): string {
  let s = ''
  for (const { patches } of txns) {
    for (const [pos, deleted, inserted] of patches) s = s.slice(0, pos) + inserted + s.slice(pos + deleted)
  }
  return s
}
