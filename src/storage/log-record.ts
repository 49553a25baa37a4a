import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

/**
 * One entry of a document's update log: every update of that document that arrived in one group commit,
 * in arrival order. Storing a batch as one record keeps the per-update cost of the log to a few bytes.
 */
export function encodeLogRecord(updates: readonly Uint8Array[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, updates.length)
  for (const update of updates) encoding.writeVarUint8Array(encoder, update)
  return encoding.toUint8Array(encoder)
}

export function decodeLogRecord(record: Uint8Array): Uint8Array[] {
  const decoder = decoding.createDecoder(record)
  const count = decoding.readVarUint(decoder)
  const updates: Uint8Array[] = []
  for (let i = 0; i < count; i++) updates.push(decoding.readVarUint8Array(decoder))
  return updates
}
