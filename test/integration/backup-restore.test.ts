import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { NodeProcess, killAllNodes, memberFlags } from '../helpers/node-process.js'
import { adminApi } from '../helpers/admin-api.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const mainJs = fileURLToPath(new URL('../../dist/server/main.js', import.meta.url))
const secret = 'backup-restore-cluster-secret'
const adminToken = 'backup-restore-admin-token'

afterEach(async () => {
  await killAllNodes()
  removeTempDirs()
})

const flags = memberFlags(secret, adminToken)

const cli = (...args: string[]) => spawnSync(process.execPath, [mainJs, ...args], { encoding: 'utf8', timeout: 60_000 })

const admin = (node: NodeProcess, method: string, path: string, body?: unknown) => adminApi(adminToken, node.url, method, path, body)

/** Appends `text` to the document's body through REST, as a new client would. */
async function write(node: NodeProcess, name: string, text: string): Promise<void> {
  const doc = new Y.Doc()
  const current = await fetch(`${node.url}/v1/docs/${encodeURIComponent(name)}/update`)
  if (current.status === 200) Y.applyUpdate(doc, new Uint8Array(await current.arrayBuffer()))
  doc.getText('body').insert(doc.getText('body').length, text)
  const res = await fetch(`${node.url}/v1/docs/${encodeURIComponent(name)}/update`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Y.encodeStateAsUpdate(doc),
  })
  expect(res.status).toBe(204)
}

async function bodyOf(node: NodeProcess, name: string): Promise<string | number> {
  const res = await fetch(`${node.url}/v1/docs/${encodeURIComponent(name)}?types=body:text`)
  return res.status === 200 ? ((await res.json()) as { body: string }).body : res.status
}

test('write, back up while serving, write more, restore elsewhere: a new cluster holds what the backup held', async () => {
  const dataA = tempDir()
  // A copy left by a process that stopped mid-backup goes at the next start.
  mkdirSync(join(dataA, 'backup-copy-left-behind'))
  const a = await NodeProcess.start(flags('a', dataA))
  expect(existsSync(join(dataA, 'backup-copy-left-behind'))).toBe(false)
  await write(a, 'team/one', 'first')
  await write(a, 'team/two', 'second')
  await write(a, 'gone', 'deleted before the backup')
  expect((await admin(a, 'PUT', '/v1/namespaces/team', { schema: { roots: { body: 'text' } } })).status).toBe(200)
  expect((await admin(a, 'DELETE', '/v1/docs/gone')).status).toBe(200)
  const hook = await admin(a, 'POST', '/v1/webhooks', { url: 'https://hooks.example/backup', events: ['updated'] })
  const cursorOfA = ((await (await fetch(`${a.url}/v1/changes`)).json()) as { nextCursor: string }).nextCursor

  const file = join(tempDir(), 'a.backup')
  const backup = cli('backup', '--out', file, '--url', a.url, '--admin-token', adminToken)
  expect(backup.stderr).toBe('')
  expect(backup.status).toBe(0)
  expect(readdirSync(dataA).filter((name) => name.startsWith('backup-'))).toEqual([])
  await write(a, 'team/one', ' and later')
  await write(a, 'team/three', 'after the backup')

  const restoredDir = join(tempDir(), 'restored')
  const restore = cli('restore', '--from', file, '--data', restoredDir)
  expect(restore.status).toBe(0)
  expect(restore.stdout).toContain(`restored `)
  expect(cli('restore', '--from', file, '--data', restoredDir)).toMatchObject({ status: 1, stderr: expect.stringContaining('is not empty') })

  const b = await NodeProcess.start(flags('b', restoredDir))
  expect(await bodyOf(b, 'team/one')).toBe('first')
  expect(await bodyOf(b, 'team/two')).toBe('second')
  expect(await bodyOf(b, 'team/three')).toBe(404)
  expect(await bodyOf(b, 'gone')).toBe(410)
  const cluster = (await admin(b, 'GET', '/v1/cluster')).json
  expect(cluster.members.map((m: { id: string }) => m.id)).toEqual(['b'])
  expect((await admin(b, 'GET', '/v1/namespaces')).json.namespaces.map((ns: { name: string }) => ns.name)).toEqual(['team'])
  expect((await admin(b, 'GET', '/v1/webhooks')).json.webhooks.map((w: { id: string }) => w.id)).toEqual([hook.json.id])
  // A's change-feed cursors are not B's: B's feed is a log of its own from here on.
  expect(((await (await fetch(`${b.url}/v1/changes?since=${cursorOfA}`)).json()) as { error: { code: string } }).error.code).toBe('cursor_unknown')
  // The namespace's schema holds on the restored node too.
  const map = new Y.Doc()
  map.getMap('body').set('k', 1)
  const refused = await fetch(`${b.url}/v1/docs/team%2Fmap/update`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Y.encodeStateAsUpdate(map) })
  expect(refused.status).toBe(403)
})

test("a restored node joins its cluster under a new id and catches up with what came after the backup", async () => {
  const a = await NodeProcess.start(flags('a', tempDir()))
  await write(a, 'doc/one', 'before')
  const file = join(tempDir(), 'a.backup')
  expect(cli('backup', '--out', file, '--url', a.url, '--admin-token', adminToken).status).toBe(0)
  await write(a, 'doc/one', ' after')
  await write(a, 'doc/two', 'only after')

  const restoredDir = join(tempDir(), 'restored')
  expect(cli('restore', '--from', file, '--data', restoredDir).status).toBe(0)
  const b = await NodeProcess.start(flags('a-restored', restoredDir, ['--join', a.url]))
  await waitFor('the restored node to catch up', async () => (await bodyOf(b, 'doc/one')) === 'before after' && (await bodyOf(b, 'doc/two')) === 'only after')
  const members = (await admin(a, 'GET', '/v1/cluster')).json.members.map((m: { id: string }) => m.id)
  expect(members).toEqual(['a', 'a-restored'])
})

test('a file that is not a whole backup is refused with what is wrong, and leaves no directory behind', () => {
  const dir = tempDir()
  const notBackup = join(dir, 'not.backup')
  writeFileSync(notBackup, 'hello')
  expect(cli('restore', '--from', notBackup, '--data', join(dir, 'x'))).toMatchObject({ status: 1, stderr: expect.stringContaining('not a syncmesh backup') })
  const cut = join(dir, 'cut.backup')
  writeFileSync(cut, Buffer.concat([Buffer.from('SYNCMESH BACKUP\n'), Buffer.from([1, 0xff, 0xff, 0x03])]))
  expect(cli('restore', '--from', cut, '--data', join(dir, 'y'))).toMatchObject({ status: 1, stderr: expect.stringContaining('cut short') })
  expect(() => readFileSync(join(dir, 'y', 'data.mdb'))).toThrow()
  expect(cli('backup', '--url', 'http://127.0.0.1:1', '--admin-token', 'x')).toMatchObject({ status: 2 })
  expect(cli('restore', '--from', join(dir, 'missing.backup'), '--data', join(dir, 'z'))).toMatchObject({ status: 1, stderr: expect.stringContaining('no such file') })
})
