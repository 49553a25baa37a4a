import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { afterEach, expect, test } from 'vitest'
import { NodeProcess, killAllNodes } from '../helpers/node-process.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const mainJs = join(root, 'dist/server/main.js')

afterEach(async () => {
  await killAllNodes()
  removeTempDirs()
})

function listeningLine(node: NodeProcess): Record<string, unknown> {
  return JSON.parse(node.logLines.find((line) => line.includes('"msg":"listening"'))!)
}

test('environment variables configure the node, and flags win over them', async () => {
  const data = tempDir()
  const node = await NodeProcess.start([], { SYNCMESH_DATA: data, SYNCMESH_ID: 'from-env', SYNCMESH_PORT: '0' })
  expect(listeningLine(node)).toMatchObject({ node: 'from-env', data, url: node.url })
  expect(existsSync(join(data, 'data.mdb'))).toBe(true)

  const flagged = await NodeProcess.start(['--id', 'from-flag', '--data', tempDir()], { SYNCMESH_ID: 'from-env' })
  expect(listeningLine(flagged).node).toBe('from-flag')
})

test('without --admin-token the node makes one, keeps it in the data directory (owner-only) and logs where', async () => {
  const data = tempDir()
  const node = await NodeProcess.start(['--data', data])
  const line = node.logLines.find((l) => l.includes('admin token kept'))
  expect(line).toBeDefined()
  const path = JSON.parse(line!).path as string
  expect(path).toBe(join(data, 'admin-token'))
  expect(statSync(path).mode & 0o777).toBe(0o600)
  const token = readFileSync(path, 'utf8').trim()
  const res = await fetch(`${node.url}/v1/cluster`, { headers: { authorization: `Bearer ${token}` } })
  expect(res.status).toBe(200)
  await node.kill('SIGTERM')
  // The same token after a restart.
  const again = await NodeProcess.start(['--data', data])
  expect(readFileSync(path, 'utf8').trim()).toBe(token)
  expect((await fetch(`${again.url}/v1/cluster`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
})

test('without --data the node keeps its LMDB data in ./data', async () => {
  const cwd = tempDir()
  const child = spawn(process.execPath, [mainJs, 'start', '--port', '0'], { cwd, stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve) => child.stdout.on('data', (chunk: Buffer) => chunk.includes('listening') && resolve()))
  expect(existsSync(join(cwd, 'data', 'data.mdb'))).toBe(true)
  child.kill('SIGTERM')
  expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0)
})

test('npm start -- passes flags through to syncmesh start', async () => {
  const data = tempDir()
  const child = spawn('npm', ['start', '--silent', '--', '--port', '0', '--data', data, '--id', 'via-npm'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  })
  try {
    const line = await new Promise<string>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => chunk.includes('listening') && resolve(chunk.toString())),
    )
    expect(line).toContain('"node":"via-npm"')
    expect(existsSync(join(data, 'data.mdb'))).toBe(true)
  } finally {
    process.kill(-child.pid!, 'SIGKILL')
  }
})

test('--help lists every flag with its environment variable', () => {
  const out = spawnSync(process.execPath, [mainJs, 'start', '--help'], { encoding: 'utf8' })
  expect(out.status).toBe(0)
  for (const flag of ['--host', '--port', '--data', '--id', '--max-message-bytes', '--log-level']) {
    expect(out.stdout).toContain(flag)
  }
  expect(out.stdout).toContain('SYNCMESH_PORT')
})

test('a bad flag or value exits with status 2 and says what is wrong', () => {
  const unknown = spawnSync(process.execPath, [mainJs, 'start', '--prot', '1'], { encoding: 'utf8' })
  expect(unknown.status).toBe(2)
  expect(unknown.stderr).toMatch(/--prot/)
  const badPort = spawnSync(process.execPath, [mainJs, 'start', '--port', '70000'], { encoding: 'utf8' })
  expect(badPort.status).toBe(2)
  expect(badPort.stderr).toMatch(/--port/)
  const badCommand = spawnSync(process.execPath, [mainJs, 'stop'], { encoding: 'utf8' })
  expect(badCommand.status).toBe(2)
})

test('an empty or short --admin-token or --cluster-secret exits with status 2', () => {
  for (const args of [['--admin-token', ''], ['--cluster-secret', 'short']]) {
    const out = spawnSync(process.execPath, [mainJs, 'start', ...args], { encoding: 'utf8' })
    expect(out.status).toBe(2)
    expect(out.stderr).toContain(`${args[0]}: at least 16 characters`)
  }
})

test('an empty admin-token file in the data directory is refused at start, naming the file', () => {
  const data = tempDir()
  const path = join(data, 'admin-token')
  writeFileSync(path, '\n')
  const out = spawnSync(process.execPath, [mainJs, 'start', '--port', '0', '--data', data], { encoding: 'utf8', timeout: 20_000 })
  expect(out.status).toBe(1)
  expect(out.stderr).toContain(`${path} is empty; a secret needs at least 16.`)
  expect(readFileSync(path, 'utf8')).toBe('\n')
})

test('syncmesh webhooks add, ls and rm, as text and as --json', async () => {
  const token = 'admin-token-of-the-webhooks-cli-test'
  const node = await NodeProcess.start(['--data', tempDir(), '--admin-token', token])
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [mainJs, 'webhooks', ...args, '--url', node.url, '--admin-token', token], { encoding: 'utf8', timeout: 20_000 })
  const added = cli('add', 'https://hooks.example/cli', '--events', 'deleted', '--prefix', 'team/', '--json')
  expect(added.status).toBe(0)
  const hook = JSON.parse(added.stdout)
  expect(hook).toMatchObject({ url: 'https://hooks.example/cli', events: ['deleted'], prefix: 'team/', secret: expect.stringMatching(/^whsec_/) })
  expect(JSON.parse(cli('ls', '--json').stdout)).toEqual({ webhooks: [{ id: hook.id, url: hook.url, events: ['deleted'], prefix: 'team/' }] })
  expect(cli('ls').stdout).toContain(`${hook.id}  deleted`)
  const badEvent = cli('add', 'https://hooks.example/cli', '--events', 'created')
  expect(badEvent.status).toBe(2)
  expect(badEvent.stderr).toContain('--events')
  const listed = JSON.parse(cli('deliveries', hook.id, '--status', 'failed', '--limit', '5', '--json').stdout)
  expect(listed).toEqual({ webhookId: hook.id, responsibleNode: expect.any(String), deliveries: [], unreachable: [] })
  expect(cli('deliveries', hook.id).stdout).toBe(`sent by ${listed.responsibleNode}\n`)
  expect(cli('deliveries', hook.id, '--status', 'lost')).toMatchObject({ status: 2, stderr: expect.stringContaining('--status') })
  expect(JSON.parse(cli('rm', hook.id, '--json').stdout)).toEqual({ id: hook.id, deleted: true })
  expect(cli('rm', hook.id)).toMatchObject({ status: 1, stdout: expect.stringContaining('404 not_found') })
  expect(cli('ls').stdout).toBe('no webhooks\n')
})

test('syncmesh ns put, ls and rm, and syncmesh docs ls, get and rm, as text and as --json', async () => {
  const token = 'admin-token-of-the-ns-and-docs-cli-test'
  const node = await NodeProcess.start(['--data', tempDir(), '--admin-token', token])
  const cli = (group: string, ...args: string[]) =>
    spawnSync(process.execPath, [mainJs, group, ...args, '--url', node.url, '--admin-token', token], { encoding: 'utf8', timeout: 20_000 })

  const put = cli('ns', 'put', 'team', '--roots', 'body:text,meta:map', '--max-doc-bytes', '100000', '--public-read', '--json')
  expect(put.status).toBe(0)
  expect(JSON.parse(put.stdout)).toEqual({ name: 'team', schema: { roots: { body: 'text', meta: 'map' } }, limits: { maxDocBytes: 100000 }, readOnly: false, publicRead: true })
  expect(cli('ns', 'ls').stdout).toMatch(/^team\s+body:text,meta:map\s+public-read\n$/)
  expect(cli('ns', 'put', 'team', '--roots', 'body:blob')).toMatchObject({ status: 2, stderr: expect.stringContaining('--roots') })
  expect(cli('ns', 'put', 'team', '--max-doc-bytes', '-5')).toMatchObject({ status: 2, stderr: expect.stringContaining('--max-doc-bytes') })
  const kept = cli('ns', 'put', 'kept', '--keep-versions', '0', '--keep-days', '1.5', '--json')
  expect(JSON.parse(kept.stdout)).toMatchObject({ name: 'kept', history: { keepVersions: 0, keepDays: 1.5 } })
  expect(cli('ns', 'ls').stdout).toMatch(/^kept\s+\(any roots\)\s+keep 0 versions 1\.5 days\n/m)
  expect(cli('ns', 'put', 'kept', '--keep-versions', '-1')).toMatchObject({ status: 2, stderr: expect.stringContaining('--keep-versions') })
  expect(cli('ns', 'put', 'kept', '--keep-days', '0')).toMatchObject({ status: 2, stderr: expect.stringContaining('--keep-days') })
  expect(cli('ns', 'rm', 'kept').status).toBe(0)

  for (const [name, text] of [['team/a', 'alpha'], ['team/b', 'beta'], ['other', 'gamma']]) {
    const doc = new Y.Doc()
    doc.getText('body').insert(0, text!)
    const res = await fetch(`${node.url}/v1/docs/${encodeURIComponent(name!)}/update`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: Y.encodeStateAsUpdate(doc),
    })
    expect(res.status).toBe(204)
  }
  const page = JSON.parse(cli('docs', 'ls', '--prefix', 'team/', '--limit', '1', '--json').stdout)
  expect(page.docs.map((d: { name: string }) => d.name)).toEqual(['team/a'])
  expect(cli('docs', 'ls', '--prefix', 'team/', '--limit', '1').stdout).toMatch(/^team\/a .*\nmore: --cursor \S+\n$/)
  expect(cli('docs', 'ls', '--prefix', 'team/', '--cursor', page.nextCursor, '--json').stdout).toContain('"team/b"')
  // One cursor in 64 begins with `-`: it must reach the node as a value, not be refused as a flag.
  expect(cli('docs', 'ls', '--cursor', `-${page.nextCursor}`)).toMatchObject({ status: 1, stdout: expect.stringContaining('400 invalid_query: cursor: not a cursor') })
  expect(JSON.parse(cli('docs', 'get', 'team/b', '--types', 'body:text').stdout)).toEqual({ body: 'beta' })
  expect(JSON.parse(cli('docs', 'rm', 'team/b', '--json').stdout)).toEqual({ name: 'team/b', deleted: true })
  expect(cli('docs', 'get', 'team/b')).toMatchObject({ status: 1, stdout: expect.stringContaining('410 deleted') })
  expect(JSON.parse(cli('ns', 'rm', 'team', '--json').stdout)).toEqual({ name: 'team', deleted: true })
  expect(cli('ns', 'ls').stdout).toBe('no namespaces\n')
})
