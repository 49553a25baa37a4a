import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, test } from 'vitest'
import { adminApi } from '../helpers/admin-api.js'
import { NodeProcess, killAllNodes } from '../helpers/node-process.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { sleep } from '../helpers/wait.js'

const secret = 'cluster-secret-for-tests'
const adminToken = 'admin-token-for-tests'
const mainJs = fileURLToPath(new URL('../../dist/server/main.js', import.meta.url))

afterEach(async () => {
  await killAllNodes()
  removeTempDirs()
})

interface ClusterView {
  id: string
  leader: string | null
  term: number
  members: { id: string; url: string; role: string }[]
}

function flags(id: string, data: string, extra: string[] = []): string[] {
  const base = ['--id', id, '--data', data, '--cluster-secret', secret, '--admin-token', adminToken]
  return [...base, '--raft-tick-ms', '50', '--control-timeout-ms', '3000', ...extra]
}

const api = (url: string, method: string, path: string, body?: unknown) => adminApi(adminToken, url, method, path, body)

async function view(node: NodeProcess): Promise<ClusterView | null> {
  try {
    return (await api(node.url, 'GET', '/v1/cluster')).json as ClusterView
  } catch {
    return null
  }
}

/** Polls until `check` holds for the views of all `nodes`. */
async function waitForViews(what: string, nodes: NodeProcess[], check: (views: ClusterView[]) => boolean): Promise<ClusterView[]> {
  let views: ClusterView[]
  const deadline = Date.now() + 30_000
  for (;;) {
    views = (await Promise.all(nodes.map(view))).filter((v): v is ClusterView => v !== null)
    if (views.length === nodes.length && check(views)) return views
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(views)}`)
    await sleep(100)
  }
}

const voters = (v: ClusterView) => v.members.filter((m) => m.role === 'voter').map((m) => m.id).sort()

/** Nodes are started as n1, n2, n3 in this order. */
const byId = (nodes: NodeProcess[], id: string) => nodes[Number(id.slice(1)) - 1]!

async function namespaces(node: NodeProcess): Promise<string[]> {
  const { json } = await api(node.url, 'GET', '/v1/namespaces')
  return (json.namespaces as { name: string }[]).map((n) => n.name).sort()
}

async function waitForNamespaces(node: NodeProcess, expected: string[]): Promise<void> {
  const deadline = Date.now() + 20_000
  while ((await namespaces(node)).join() !== expected.join()) {
    if (Date.now() > deadline) throw new Error(`${node.url} has namespaces ${await namespaces(node)}, not ${expected}`)
    await sleep(100)
  }
}

async function startThree() {
  const dirs = [tempDir(), tempDir(), tempDir()]
  const n1 = await NodeProcess.start(flags('n1', dirs[0]!))
  const n2 = await NodeProcess.start(flags('n2', dirs[1]!, ['--join', n1.url]))
  const n3 = await NodeProcess.start(flags('n3', dirs[2]!, ['--join', n1.url]))
  const nodes = [n1, n2, n3]
  await waitForViews('three voters everywhere', nodes, (views) =>
    views.every((v) => v.leader !== null && voters(v).join() === 'n1,n2,n3'),
  )
  return { nodes, dirs }
}

test('three nodes: joiners become voters, writes through any node commit everywhere, and survive kill -9 of the leader and a restart of all', async () => {
  const { nodes, dirs } = await startThree()
  // A write sent to a follower is forwarded to the leader.
  const [first] = await waitForViews('one leader', nodes, (views) => views.every((v) => v.leader === views[0]!.leader))
  const leaderId = first!.leader!
  const follower = nodes.find((n) => n !== byId(nodes, leaderId))!
  const put = await api(follower.url, 'PUT', '/v1/namespaces/notes', { schema: { roots: { body: 'text' } } })
  expect(put.status).toBe(200)
  for (const node of nodes) await waitForNamespaces(node, ['notes'])

  // kill -9 the leader: the other two elect a new one, which keeps the members and namespaces.
  const leader = byId(nodes, leaderId)
  await leader.kill('SIGKILL')
  const survivors = nodes.filter((n) => n !== leader)
  const after = await waitForViews('a new leader', survivors, (views) =>
    views.every((v) => v.leader !== null && v.leader !== leaderId && v.leader === views[0]!.leader),
  )
  expect(voters(after[0]!)).toEqual(['n1', 'n2', 'n3'])
  const second = await api(survivors[0]!.url, 'PUT', '/v1/namespaces/wiki', { schema: { roots: { page: 'xml' } } })
  expect(second.status).toBe(200)

  // Restart all three from their data directories, without --join: the same metadata comes back.
  await Promise.all(survivors.map((n) => n.kill('SIGTERM')))
  // Same ports: the members' URLs are part of the metadata.
  const ports = nodes.map((n) => new URL(n.url).port)
  const restarted = await Promise.all(dirs.map((dir, i) => NodeProcess.start(flags(`n${i + 1}`, dir, ['--port', ports[i]!]))))
  await waitForViews('the restarted cluster', restarted, (views) => views.every((v) => v.leader !== null))
  for (const node of restarted) {
    const consistent = await api(node.url, 'GET', '/v1/cluster?consistent=true')
    expect(consistent.status).toBe(200)
    expect(voters(consistent.json)).toEqual(['n1', 'n2', 'n3'])
    await waitForNamespaces(node, ['notes', 'wiki'])
  }
})

test('without a quorum a metadata write answers 503 no_quorum in bounded time, while the lone node still serves documents', async () => {
  const { nodes } = await startThree()
  const [v] = await waitForViews('a leader', nodes, (views) => views.every((x) => x.leader !== null))
  const lone = nodes.find((n) => n !== byId(nodes, v!.leader!))!
  await Promise.all(nodes.filter((n) => n !== lone).map((n) => n.kill('SIGKILL')))
  const started = Date.now()
  const res = await api(lone.url, 'PUT', '/v1/namespaces/late', { schema: { roots: {} } })
  expect(res.status).toBe(503)
  expect(res.json.error.code).toBe('no_quorum')
  expect(Date.now() - started).toBeLessThan(15_000)
  const doc = await fetch(`${lone.url}/v1/docs/free/update`, {
    method: 'POST',
    body: new Uint8Array([1, 1, 1, 0, 4, 1, 1, 116, 1, 120, 0]),
    headers: { 'content-type': 'application/octet-stream' },
  })
  expect([204, 400]).toContain(doc.status)
  expect((await fetch(`${lone.url}/healthz`)).status).toBe(200)
})

test('a node with a wrong cluster secret never gets in; a removed member can no longer change anything', async () => {
  const { nodes } = await startThree()
  const intruder = await NodeProcess.start([
    '--id', 'n4', '--data', tempDir(), '--cluster-secret', 'the-wrong-cluster-secret', '--admin-token', adminToken,
    '--raft-tick-ms', '50', '--join', nodes[0]!.url,
  ])
  await sleep(2_000)
  const intruderView = await view(intruder)
  expect(intruderView?.leader ?? null).toBeNull()
  expect(intruderView?.members ?? []).toEqual([])

  const removed = await api(nodes[0]!.url, 'DELETE', '/v1/cluster/members/n3')
  expect(removed.status).toBe(200)
  await waitForViews('n3 gone', nodes.slice(0, 2), (views) => views.every((v) => !v.members.some((m) => m.id === 'n3')))
  // n3 learns of its removal from the leader's last message, and refuses to act from then on.
  const deadline = Date.now() + 10_000
  let attempt = await api(nodes[2]!.url, 'GET', '/v1/cluster?consistent=true')
  while (attempt.status !== 503 && Date.now() < deadline) {
    await sleep(100)
    attempt = await api(nodes[2]!.url, 'GET', '/v1/cluster?consistent=true')
  }
  expect(attempt.json.error.code).toBe('removed')
  const write = await api(nodes[2]!.url, 'PUT', '/v1/namespaces/by-n3', { schema: { roots: {} } })
  expect(write.status).toBe(503)
  expect(write.json.error.code).toBe('removed')
  const fromN1 = await api(nodes[0]!.url, 'PUT', '/v1/namespaces/after', { schema: { roots: {} } })
  expect(fromN1.status).toBe(200)
  await sleep(1_000)
  expect(await namespaces(nodes[2]!)).not.toContain('after')
})

test('syncmesh cluster ls, add, rm and transfer drive the admin API', async () => {
  const { nodes } = await startThree()
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [mainJs, 'cluster', ...args, '--url', nodes[0]!.url, '--admin-token', adminToken], {
      encoding: 'utf8',
    })
  const ls = cli('ls')
  expect(ls.status).toBe(0)
  expect(ls.stdout).toMatch(/n1 +voter/)
  expect(ls.stdout).toMatch(/^\* /m)
  const json = JSON.parse(cli('ls', '--json').stdout) as ClusterView
  const target = ['n1', 'n2', 'n3'].find((id) => id !== json.leader)!
  const transfer = cli('transfer', target)
  expect(transfer.status).toBe(0)
  expect(JSON.parse(transfer.stdout)).toEqual({ leader: target })
  const add = cli('add', 'n9', 'http://127.0.0.1:9')
  expect(add.status).toBe(0)
  expect(JSON.parse(add.stdout)).toMatchObject({ id: 'n9', role: 'replica' })
  expect(cli('rm', 'n9').status).toBe(0)
  const bad = cli('rm', 'nobody')
  expect(bad.status).toBe(1)
  expect(bad.stdout).toMatch(/404 not_found/)
})
