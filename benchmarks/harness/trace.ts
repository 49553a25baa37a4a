import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import * as Y from 'yjs'
import { tracesDir } from './paths.js'

/** The sequential editing trace: one keystroke per transaction (format in ../shared/traces/README.md). */
export const tracePath = join(tracesDir, 'automerge-paper.json.gz')

type Patch = [pos: number, deleted: number, inserted: string]

interface SequentialTrace {
  endContent: string
  txns: { patches: Patch[] }[]
}

export interface PreparedTrace {
  /** Transactions in the whole trace; `updates` may cover only a prefix. */
  totalTxns: number
  /** One v1 update per transaction replayed, as a local Y.Doc emitted them. */
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

/** Replays the first `limit` transactions into a local doc and collects every update it emits. */
export function prepareTrace(limit: number): PreparedTrace {
  const trace = JSON.parse(gunzipSync(readFileSync(tracePath)).toString('utf8')) as SequentialTrace
  const txns = trace.txns.slice(0, limit)
  const doc = new Y.Doc()
  doc.clientID = traceClientId
  const text = doc.getText(textName)
  const updates: Uint8Array[] = []
  let updateBytes = 0
  doc.on('update', (update: Uint8Array) => {
    updates.push(update)
    updateBytes += update.byteLength
  })
  for (const { patches } of txns) {
    doc.transact(() => {
      for (const [pos, deleted, inserted] of patches) {
        if (deleted > 0) text.delete(pos, deleted)
        if (inserted.length > 0) text.insert(pos, inserted)
      }
    })
  }
  const expectedText = txns.length === trace.txns.length ? trace.endContent : replayAsString(txns)
  if (text.toString() !== expectedText) throw new Error('local replay of the trace does not match its expected text')
  doc.destroy()
  return { totalTxns: trace.txns.length, updates, updateBytes, expectedText }
}

function replayAsString(txns: readonly { patches: Patch[] }[]): string {
  let s = ''
  for (const { patches } of txns) {
    for (const [pos, deleted, inserted] of patches) s = s.slice(0, pos) + inserted + s.slice(pos + deleted)
  }
  return s
}
