import { randomBytes } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DataDirError } from './data-dir-error.js'

/** Shortest secret accepted, in characters without the whitespace around it: a guessable token guards nothing. */
export const minSecretChars = 16

/**
 * A secret kept in the data directory: read if present, otherwise made once (readable by the owner only), so
 * that it survives restarts. Returns the secret and the file it lives in. Throws for a file that holds less
 * than minSecretChars: an empty admin token must never become the admin token.
 */
export function loadOrCreateSecret(dataDir: string, fileName: string): { value: string; path: string } {
  const path = join(dataDir, fileName)
  const stored = readIfPresent(path)
  if (stored !== undefined) return { value: checkStored(stored.trim(), path), path }
  mkdirSync(dataDir, { recursive: true })
  const value = randomBytes(24).toString('base64url')
  writeAtomically(dataDir, path, value + '\n')
  return { value, path }
}

export function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

function checkStored(value: string, path: string): string {
  if (value.length >= minSecretChars) return value
  const holds = value.length === 0 ? 'is empty' : `holds only ${value.length} characters`
  throw new DataDirError(
    `${path} ${holds}; a secret needs at least ${minSecretChars}. Write a longer one into it, or delete the file ` +
      'to have a new one made (a cluster secret must be the same on every node).',
  )
}

/** A secret given in the configuration, held to the same minimum as one read from a file. */
export function checkGivenSecret(value: string, what: string): string {
  const trimmed = value.trim()
  if (trimmed.length < minSecretChars) throw new Error(`${what} needs at least ${minSecretChars} characters, whitespace around them aside`)
  return trimmed
}

/**
 * Writes `contents` to `path` so that the path only ever holds all of it: into a file of its own first (readable
 * by the owner only), made durable, then renamed to the path, and the rename made durable too. A crash before the
 * rename leaves the path absent, so the next start makes the file again, and removes the temporary file such a
 * crash left.
 */
export function writeAtomically(dir: string, path: string, contents: string): void {
  const temporary = `${path}.tmp`
  rmSync(temporary, { force: true })
  try {
    const fd = openSync(temporary, 'wx', 0o600)
    try {
      writeFileSync(fd, contents)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temporary, path)
  } catch (err) {
    rmSync(temporary, { force: true })
    throw err
  }
  syncDirectory(dir)
}

function syncDirectory(dir: string): void {
  // Windows cannot open a directory to flush it; NTFS journals the rename itself.
  if (process.platform === 'win32') return
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
