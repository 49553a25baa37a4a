import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * A secret kept in the data directory: read if present, otherwise made once (readable by the owner
 * only), so that it survives restarts. Returns the secret and the file it lives in.
 */
export function loadOrCreateSecret(dataDir: string, fileName: string): { value: string; path: string } {
  const path = join(dataDir, fileName)
  try {
    return { value: readFileSync(path, 'utf8').trim(), path }
  } catch {
    mkdirSync(dataDir, { recursive: true })
    const value = randomBytes(24).toString('base64url')
    writeFileSync(path, value + '\n', { mode: 0o600, flag: 'wx' })
    return { value, path }
  }
}
