import { randomUUID } from 'node:crypto'
import { createReadStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { Hono } from 'hono'
import { encodeBackupHeader } from '../storage/backup-file.js'
import { ApiError } from './api-error.js'
import { requireAdmin } from './admin-auth.js'

const scratchPrefix = 'backup-copy-'

export interface BackupSource {
  adminToken: string
  nodeId: string
  /** Where the copy is written before it is sent: the data directory, on the same disk as what is copied. */
  scratchDir: string
  /** The cluster's metadata as this node applied it, as a snapshot. */
  metaSnapshot(): Uint8Array
  /** Writes a consistent copy of the node's LMDB environment into an empty directory; returns the copy's file. */
  copyStore(dir: string): Promise<string>
}

/**
 * GET /v1/backup (admin): a consistent backup of this node while it serves — the metadata, then LMDB's own copy
 * of the environment (documents, change feed). One at a time: each needs disk for a whole copy until it is sent.
 */
export function backupRoutes(source: BackupSource) {
  // Copies a process that stopped mid-backup left behind.
  for (const name of readdirSync(source.scratchDir)) if (name.startsWith(scratchPrefix)) rmSync(join(source.scratchDir, name), { recursive: true, force: true })
  let running = false
  return new Hono().get('/v1/backup', requireAdmin(source.adminToken), async () => {
    if (running) throw new ApiError(409, 'backup_in_progress', 'this node is making a backup already; retry once it is sent')
    running = true
    const dir = join(source.scratchDir, `${scratchPrefix}${randomUUID()}`)
    const done = () => {
      rmSync(dir, { recursive: true, force: true })
      running = false
    }
    let header: Uint8Array
    let path: string
    let storeBytes: number
    try {
      // The metadata first: a document deleted meanwhile is then gone from the copy, or deleted by the restored node.
      header = encodeBackupHeader(source.metaSnapshot())
      mkdirSync(dir)
      path = await source.copyStore(dir)
      storeBytes = statSync(path).size
    } catch (err) {
      done()
      throw err
    }
    async function* contents() {
      try {
        yield header
        yield* createReadStream(path)
      } finally {
        done()
      }
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    return new Response(Readable.toWeb(Readable.from(contents())) as ReadableStream, {
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(header.byteLength + storeBytes),
        'content-disposition': `attachment; filename="syncmesh-${source.nodeId.replace(/[^A-Za-z0-9._-]/g, '_')}-${stamp}.backup"`,
      },
    })
  })
}
