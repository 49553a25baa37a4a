import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { decodeNodeIdentity, encodeNodeIdentity, generateNodeIdentity, type NodeIdentity } from '../peer/node-identity.js'
import { DataDirError } from './data-dir-error.js'
import { readIfPresent, writeAtomically } from './secrets.js'

const nodeKeyFile = 'node-key'

/**
 * This node's key pair, kept in `<dataDir>/node-key` (PKCS#8 PEM, readable by the owner only): read if present,
 * otherwise made once. Throws a one-line error for a file that holds no Ed25519 private key: making a new one
 * would quietly turn this node into another, which every peer refuses once the old key is on record.
 */
export function loadOrCreateNodeKey(dataDir: string): { identity: NodeIdentity; path: string } {
  const path = join(dataDir, nodeKeyFile)
  const stored = readIfPresent(path)
  if (stored !== undefined) {
    try {
      return { identity: decodeNodeIdentity(stored), path }
    } catch (err) {
      throw new DataDirError(
        `${path} does not hold an Ed25519 private key (${(err as Error).message}). It is this node's identity in ` +
          'the cluster: restore it from a backup, or delete it and rejoin under a new id with an empty data directory.',
      )
    }
  }
  mkdirSync(dataDir, { recursive: true })
  const identity = generateNodeIdentity()
  writeAtomically(dataDir, path, encodeNodeIdentity(identity))
  return { identity, path }
}
