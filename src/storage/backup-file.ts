import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

/**
 * A backup file: this magic, a format number, the cluster's metadata as a snapshot (meta/codec.ts) with a
 * length before it, then a copy of the node's LMDB environment file to the end.
 */
const magic = new TextEncoder().encode('SYNCMESH BACKUP\n')
const backupFormat = 1
/** A header is read from the start of the file: the magic, the format and the snapshot's length fit in this. */
export const headerProbeBytes = magic.byteLength + 2 * 10

export function encodeBackupHeader(metaSnapshot: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeUint8Array(encoder, magic)
  encoding.writeVarUint(encoder, backupFormat)
  encoding.writeVarUint8Array(encoder, metaSnapshot)
  return encoding.toUint8Array(encoder)
}

export type BackupHeader =
  | { ok: true; /** Where the snapshot starts and how long it is. */ metaAt: number; metaBytes: number; /** Where the LMDB copy starts. */ dataAt: number }
  | { ok: false; message: string }

/** Reads a header from the first bytes of a file of `fileBytes` bytes; never throws. */
export function readBackupHeader(probe: Uint8Array, fileBytes: number): BackupHeader {
  if (probe.byteLength < magic.byteLength || magic.some((byte, i) => probe[i] !== byte)) {
    return { ok: false, message: 'not a syncmesh backup (it does not start with the backup magic)' }
  }
  try {
    const decoder = decoding.createDecoder(probe.subarray(magic.byteLength))
    const format = decoding.readVarUint(decoder)
    if (format !== backupFormat) return { ok: false, message: `backup format ${format} is unknown to this version` }
    const metaBytes = decoding.readVarUint(decoder)
    const metaAt = magic.byteLength + decoder.pos
    const dataAt = metaAt + metaBytes
    if (!Number.isSafeInteger(dataAt) || dataAt > fileBytes) return { ok: false, message: 'the backup is cut short: it ends inside its metadata' }
    if (dataAt === fileBytes) return { ok: false, message: 'the backup is cut short: it holds no documents store' }
    return { ok: true, metaAt, metaBytes, dataAt }
  } catch {
    return { ok: false, message: 'the backup is cut short: it ends inside its header' }
  }
}
