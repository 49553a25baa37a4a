import { afterEach, expect, test } from 'vitest'
import { NodeProcess, killAllNodes, memberFlags } from '../helpers/node-process.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitForValue } from '../helpers/wait.js'

const secret = 'join-catch-up-cluster-secret'
const adminToken = 'join-catch-up-admin-token'

afterEach(async () => {
  await killAllNodes()
  removeTempDirs()
})

const flags = memberFlags(secret, adminToken)

async function admin(node: NodeProcess, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(node.url + path, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  })
}

interface ClusterView {
  leader: string | null
  members: { id: string }[]
}

async function clusterOf(node: NodeProcess): Promise<ClusterView | null> {
  return admin(node, 'GET', '/v1/cluster').then((r) => (r.ok ? (r.json() as Promise<ClusterView>) : null), () => null)
}

const docStatus = (node: NodeProcess, name: string) => fetch(`${node.url}/v1/docs/${name}/update`).then((r) => r.status)

test('a joining node replays metadata that predates the leader, and still reaches the leader and catches up, also after kill -9', async () => {
  const n1 = await NodeProcess.start(flags('n1', tempDir()))
  const n2 = await NodeProcess.start(flags('n2', tempDir(), ['--join', n1.url]))
  await waitForValue('n2 to join', () => clusterOf(n1), (v) => v?.members.length === 2)
  // More entries than one append carries (256), all before n3 joins: a node replaying the log from the
  // start holds, after the first append, metadata in which n3 is no member.
  for (let i = 0; i < 300; i += 25) {
    const batch = Array.from({ length: 25 }, (_, j) => admin(n1, 'DELETE', `/v1/docs/early-${i + j}`))
    for (const res of await Promise.all(batch)) expect(res.status).toBe(200)
  }
  const n3 = await NodeProcess.start(flags('n3', tempDir(), ['--join', n1.url]))
  await waitForValue('n3 to join', () => clusterOf(n1), (v) => v?.members.length === 3)
  await waitForValue(
    'n3 to lead',
    async () => {
      await admin(n1, 'POST', '/v1/cluster/leader', { to: 'n3' })
      return clusterOf(n1)
    },
    (v) => v?.leader === 'n3',
  )
  expect((await admin(n3, 'DELETE', '/v1/docs/late')).status).toBe(200)

  const n4Data = tempDir()
  const n4 = await NodeProcess.start(flags('n4', n4Data, ['--join', n2.url]))
  await waitForValue('n4 to learn the last deletion', () => docStatus(n4, 'late'), (status) => status === 410, { timeoutMs: 20_000 })
  expect(await docStatus(n4, 'early-0')).toBe(410)
  expect((await clusterOf(n4))?.leader).toBe('n3')

  // Started again without --join: the data directory remembers the join answer as well as the log.
  await n4.kill('SIGKILL')
  const again = await NodeProcess.start(flags('n4', n4Data, ['--port', new URL(n4.url).port]))
  expect(await docStatus(again, 'late')).toBe(410)
  await waitForValue('n4 to follow n3 again', () => clusterOf(again), (v) => v?.leader === 'n3')
  expect(await clusterOf(n2)).toMatchObject({ leader: 'n3' })
})

test('--join takes several URLs and tries them in turn: a first one that never answers does not keep a node out', async () => {
  const n1 = await NodeProcess.start(flags('n1', tempDir()))
  // A port that was open a moment ago and is closed now: nothing will ever answer there.
  const gone = await NodeProcess.start(flags('gone', tempDir()))
  const goneUrl = gone.url
  await gone.kill('SIGKILL')
  const n2 = await NodeProcess.start(flags('n2', tempDir(), ['--join', `${goneUrl}, ${n1.url}`]))
  const view = await waitForValue('n2 to join through the second URL', () => clusterOf(n1), (v) => v?.members.length === 2)
  expect(view!.members.map((m) => m.id).sort()).toEqual(['n1', 'n2'])
  const joined = await waitForValue(
    'n2 to say it joined',
    async () => n2.logLines.find((line) => line.includes('"msg":"joined the cluster"')),
    (line) => line !== undefined,
  )
  expect(JSON.parse(joined!).via).toBe(n1.url)
  // The one that never answered was tried first.
  expect(n2.logLines.some((line) => line.includes('"msg":"join failed; retrying"') && JSON.parse(line).via === goneUrl)).toBe(true)
  await waitForValue('n2 ready once it holds the metadata', () => readiness(n2), (r) => r.status === 200)
})

const readiness = (node: NodeProcess) => fetch(`${node.url}/readyz`).then(async (r) => ({ status: r.status, body: (await r.json()) as any }))

test('a node that cannot join says so on /readyz: not ready, joining, with the last member it asked and why that failed', async () => {
  const gone = await NodeProcess.start(flags('gone', tempDir()))
  const goneUrl = gone.url
  await gone.kill('SIGKILL')
  const lonely = await NodeProcess.start(flags('lonely', tempDir(), ['--join', goneUrl]))
  const { body } = await waitForValue('a failed join attempt', () => readiness(lonely), (r) => r.body.error?.lastJoinVia !== undefined)
  expect(body.error).toEqual({
    code: 'joining',
    message: 'not a member yet: asking the cluster to add this node',
    lastJoinVia: goneUrl,
    lastJoinError: expect.stringContaining('ECONNREFUSED'),
  })
})
