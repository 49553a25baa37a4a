import { existsSync, fsyncSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { loadOrCreateSecret, minSecretChars } from '../../src/control/secrets.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

// The real functions, watched: a test may make one fail, as a crash at that point would stop the write.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>()
  return { ...actual, fsyncSync: vi.fn(actual.fsyncSync), renameSync: vi.fn(actual.renameSync) }
})

const actualFs = await vi.importActual<typeof import('node:fs')>('node:fs')

afterEach(() => {
  vi.mocked(fsyncSync).mockClear()
  vi.mocked(renameSync).mockClear()
  removeTempDirs()
})

describe('a secret the node makes', () => {
  test('is made once, kept readable by the owner only, and read back at every later start', () => {
    const dir = join(tempDir(), 'data')
    const made = loadOrCreateSecret(dir, 'admin-token')
    expect(made.path).toBe(join(dir, 'admin-token'))
    expect(made.value.length).toBeGreaterThanOrEqual(minSecretChars)
    expect(readFileSync(made.path, 'utf8')).toBe(`${made.value}\n`)
    expect(statSync(made.path).mode & 0o777).toBe(0o600)
    expect(loadOrCreateSecret(dir, 'admin-token')).toEqual(made)
    expect(loadOrCreateSecret(dir, 'cluster-secret').value).not.toBe(made.value)
  })

  test('leaves no temporary file behind', () => {
    const dir = tempDir()
    loadOrCreateSecret(dir, 'cluster-secret')
    expect(readdirSync(dir)).toEqual(['cluster-secret'])
  })

  test('appears at its path only complete: written and flushed elsewhere first, then renamed, then the rename flushed', () => {
    const dir = tempDir()
    const path = join(dir, 'admin-token')
    const flushesBeforeRename: number[] = []
    vi.mocked(renameSync).mockImplementationOnce((from, to) => {
      expect(to).toBe(path)
      expect(existsSync(path)).toBe(false)
      expect(readFileSync(from, 'utf8')).toMatch(/^\S{16,}\n$/)
      flushesBeforeRename.push(vi.mocked(fsyncSync).mock.calls.length)
      actualFs.renameSync(from, to)
    })
    const { value } = loadOrCreateSecret(dir, 'admin-token')
    expect(readFileSync(path, 'utf8')).toBe(`${value}\n`)
    // The file's contents before the rename, the directory after it.
    expect(flushesBeforeRename).toEqual([1])
    expect(vi.mocked(fsyncSync).mock.calls.length).toBe(2)
  })

  test('a crash before the rename leaves no secret at the path; the next start makes a complete one', () => {
    const dir = tempDir()
    const path = join(dir, 'admin-token')
    vi.mocked(renameSync).mockImplementationOnce(() => {
      throw new Error('killed before the rename')
    })
    expect(() => loadOrCreateSecret(dir, 'admin-token')).toThrow('killed before the rename')
    expect(existsSync(path)).toBe(false)

    // What a process killed mid-write leaves: part of a secret, in the temporary file only.
    writeFileSync(`${path}.tmp`, 'abc')
    const { value } = loadOrCreateSecret(dir, 'admin-token')
    expect(readFileSync(path, 'utf8')).toBe(`${value}\n`)
    expect(value.length).toBeGreaterThanOrEqual(minSecretChars)
    expect(readdirSync(dir)).toEqual(['admin-token'])
  })
})

describe('a secret file that holds too little is refused at start', () => {
  test.each([
    ['empty', '', 'is empty'],
    ['only whitespace', ' \n\n', 'is empty'],
    ['short', 'fifteen-chars-x\n', 'holds only 15 characters'],
  ])('%s: the error names the file and says what to do', (_what, contents, holds) => {
    const dir = tempDir()
    const path = join(dir, 'admin-token')
    writeFileSync(path, contents)
    expect(() => loadOrCreateSecret(dir, 'admin-token')).toThrow(
      `${path} ${holds}; a secret needs at least 16. Write a longer one into it, or delete the file to have a new one made`,
    )
    expect(readFileSync(path, 'utf8')).toBe(contents)
  })

  test('a secret of exactly the minimum, with whitespace around it, is read without the whitespace', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'cluster-secret'), '  0123456789abcdef  \n')
    expect(loadOrCreateSecret(dir, 'cluster-secret').value).toBe('0123456789abcdef')
  })
})
