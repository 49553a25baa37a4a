import { generateKeyPairSync } from 'node:crypto'
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { loadOrCreateNodeKey } from '../../src/control/node-key.js'
import { signAs, signedBy } from '../../src/peer/node-identity.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

afterEach(() => removeTempDirs())

describe("a node's key pair", () => {
  test('is made at the first start, kept readable by the owner only, and read back at every later start', () => {
    const dir = join(tempDir(), 'data')
    const made = loadOrCreateNodeKey(dir)
    expect(made.path).toBe(join(dir, 'node-key'))
    expect(statSync(made.path).mode & 0o777).toBe(0o600)
    expect(readFileSync(made.path, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    expect(readdirSync(dir)).toEqual(['node-key'])
    const again = loadOrCreateNodeKey(dir)
    expect(again.identity.publicKey).toBe(made.identity.publicKey)
    const message = Buffer.from('a transcript')
    expect(signedBy(made.identity.publicKey, message, signAs(again.identity, message))).toBe(true)
  })

  test('differs from one data directory to the next', () => {
    expect(loadOrCreateNodeKey(tempDir()).identity.publicKey).not.toBe(loadOrCreateNodeKey(tempDir()).identity.publicKey)
  })

  test.each([
    ['an empty file', ''],
    ['a truncated key', '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n'],
    ['text', 'not a key at all\n'],
    ['another kind of key', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
  ])('in a file that holds %s, is a clear startup error that names the file, and the file is kept', (_what, contents) => {
    const dir = tempDir()
    const path = join(dir, 'node-key')
    writeFileSync(path, contents, { mode: 0o600 })
    let error: unknown
    try {
      loadOrCreateNodeKey(dir)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(Error)
    const message = (error as Error).message
    expect(message).toMatch(new RegExp(`^${path} does not hold an Ed25519 private key \\((not a PEM private key: .+|an ec key)\\)\\. `))
    expect(message).not.toContain('\n')
    expect(readFileSync(path, 'utf8')).toBe(contents)
  })
})
