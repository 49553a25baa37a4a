import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { decodeMetaState } from '../meta/codec.js'
import { emptyMetaState, type MetaState } from '../meta/state.js'
import { headerProbeBytes, readBackupHeader } from '../storage/backup-file.js'
import { prepareRestoredEnvironment } from '../storage/restored-environment.js'
import { DataDirError } from './data-dir-error.js'

/** The metadata a restored data directory starts a new cluster with, until its node has started once. */
const restoredMetadataFile = 'restored-metadata'

/**
 * Makes the data directory of a new node from a backup file (GET /v1/backup): its documents, change feed and
 * summaries as they were, none of the Raft state or the secrets of the node it came from. Started without --join,
 * the node starts a new cluster with the backup's metadata (namespaces, deletions, webhooks); started with --join,
 * it joins that cluster and takes the cluster's. `dataDir` must be new or empty.
 */
export async function restoreBackup(from: string, dataDir: string): Promise<{ bytes: number }> {
  if (!existsSync(from)) throw new DataDirError(`${from}: no such file`)
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) throw new DataDirError(`${dataDir} is not empty; restore into a new directory`)
  const fd = openSync(from, 'r')
  let metaSnapshot: Uint8Array
  let dataAt: number
  let bytes: number
  try {
    bytes = fstatSync(fd).size
    const probe = new Uint8Array(Math.min(headerProbeBytes, bytes))
    readSync(fd, probe, 0, probe.byteLength, 0)
    const header = readBackupHeader(probe, bytes)
    if (!header.ok) throw new DataDirError(`${from}: ${header.message}`)
    metaSnapshot = new Uint8Array(header.metaBytes)
    readSync(fd, metaSnapshot, 0, header.metaBytes, header.metaAt)
    dataAt = header.dataAt
  } finally {
    closeSync(fd)
  }
  const decoded = decodeMetaState(metaSnapshot)
  if (!decoded.ok) throw new DataDirError(`${from}: its metadata does not decode: ${decoded.message}`)

  mkdirSync(dataDir, { recursive: true })
  try {
    await pipeline(createReadStream(from, { start: dataAt }), createWriteStream(join(dataDir, 'data.mdb')))
    await prepareRestoredEnvironment(dataDir).catch((err: unknown) => {
      throw new DataDirError(`${from}: its documents store does not open: ${(err as Error).message}`)
    })
    writeFileSync(join(dataDir, restoredMetadataFile), metaSnapshot, { mode: 0o600 })
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true })
    throw err
  }
  return { bytes }
}

/**
 * The metadata a new cluster of one starts with in a restored data directory: the backup's, with this node as
 * its only member (the backup's members, removed ones and remembered requests are another cluster's). Without a
 * restored directory, empty metadata.
 */
export function initialMetadata(dataDir: string): MetaState {
  const path = join(dataDir, restoredMetadataFile)
  if (!existsSync(path)) return emptyMetaState()
  const decoded = decodeMetaState(readFileSync(path))
  if (!decoded.ok) throw new DataDirError(`${path} does not decode (${decoded.message}); restore the backup again`)
  const { voterTarget, namespaces, tombstones, webhooks } = decoded.state
  return { ...emptyMetaState(), voterTarget, namespaces, tombstones, webhooks }
}

/** Once the node has its own Raft state (a new cluster's, or a cluster's it joined), the restored metadata has served. */
export function forgetRestoredMetadata(dataDir: string): void {
  rmSync(join(dataDir, restoredMetadataFile), { force: true })
}
