import { join } from 'node:path'
import { readIfPresent, writeAtomically } from './secrets.js'

const removalFile = 'removed-from-cluster'

/**
 * Kept in the data directory once a member has told this node it was removed: its own metadata may never
 * learn it (the leader no longer sends it the log), and a restart must not make it take writes again.
 */
export function recordRemoval(dataDir: string, toldBy: string): void {
  writeAtomically(dataDir, join(dataDir, removalFile), JSON.stringify({ toldBy, at: new Date().toISOString() }) + '\n')
}

export function wasToldRemoved(dataDir: string): boolean {
  return readIfPresent(join(dataDir, removalFile)) !== undefined
}
