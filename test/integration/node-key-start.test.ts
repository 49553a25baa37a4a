import { spawnSync } from 'node:child_process'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, test } from 'vitest'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

const mainJs = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist/server/main.js')

afterEach(() => removeTempDirs())

test('a corrupt node-key file stops the start with one line that names the file, and leaves the file and the port alone', () => {
  const data = tempDir()
  const path = join(data, 'node-key')
  writeFileSync(path, '-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n', { mode: 0o600 })
  const out = spawnSync(process.execPath, [mainJs, 'start', '--port', '0', '--data', data], { encoding: 'utf8', timeout: 20_000 })
  expect(out.status).toBe(1)
  expect(out.stderr).toMatch(new RegExp(`^syncmesh: ${path} does not hold an Ed25519 private key \\(not a PEM private key: .+\\)\\. It is this node's identity`))
  expect(out.stderr.trim().split('\n')).toHaveLength(1)
  expect(out.stdout).not.toContain('"msg":"listening"')
  expect(readFileSync(path, 'utf8')).toContain('garbage')
  // Refused before the storage was opened: no LMDB files were made.
  expect(readdirSync(data).sort()).toEqual(['admin-token', 'cluster-secret', 'node-key'])
})
