import { SignJWT } from 'jose'
import { afterEach, expect, test } from 'vitest'
import { createClient, SyncmeshApiError, type ChangeEvent } from '../../client/index.js'
import { NodeProcess, killAllNodes } from '../helpers/node-process.js'
import { TcpProxy, closeAllProxies } from '../helpers/tcp-proxy.js'
import { startProxiedCluster } from '../helpers/proxied-cluster.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor, waitForValue } from '../helpers/wait.js'
import { writeText } from '../helpers/rest-writes.js'

afterEach(async () => {
  await killAllNodes()
  await closeAllProxies()
  removeTempDirs()
})

interface Page {
  changes: ChangeEvent[]
  nextCursor: string
}

async function page(url: string, query: Record<string, string>, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/v1/changes?${new URLSearchParams(query)}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  return { status: res.status, body: await res.json() }
}

/**
 * The events after `since`, long-polling until `enough` holds for those read — or until a poll of a second
 * brought nothing new while it did not, which is what fails the test.
 */
async function follow(url: string, enough: (changes: ChangeEvent[]) => boolean, options: { since?: string; token?: string } = {}): Promise<ChangeEvent[]> {
  const changes: ChangeEvent[] = []
  let cursor = options.since
  let idlePolls = 0
  while (!enough(changes) && idlePolls < 5) {
    const { status, body } = await page(url, { ...(cursor !== undefined && { since: cursor }), limit: '1000', wait: '1s' }, options.token)
    expect(status).toBe(200)
    const { changes: more, nextCursor } = body as Page
    changes.push(...more)
    cursor = nextCursor
    idlePolls = more.length === 0 ? idlePolls + 1 : 0
  }
  return changes
}

test('kill -9 while writes are acknowledged: after a restart every acknowledged write has an event, and no cursor comes twice', async () => {
  const data = tempDir()
  const node = await NodeProcess.start(['--data', data])
  for (let i = 0; i < 20; i++) expect(await writeText(node.url, `before/${i}`, 'x')).toBe(204)
  // A consumer reads part of the feed, with a long poll that waits for the first event.
  const seen = await page(node.url, { limit: '5', wait: '10s' })
  expect(seen.body.changes.length).toBeGreaterThan(0)
  const consumed: ChangeEvent[] = seen.body.changes

  const acknowledged = new Set<string>()
  let stop = false
  const writers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const name = `during/${w}/${i}`
      const status = await writeText(node.url, name, 'y').catch(() => 0)
      if (status === 204) acknowledged.add(name)
    }
  })
  while (acknowledged.size < 150) await new Promise((resolve) => setTimeout(resolve, 5))
  await node.kill('SIGKILL')
  stop = true
  await Promise.all(writers)

  const restarted = await NodeProcess.start(['--data', data])
  // Resuming after the consumer's last cursor: nothing it saw comes again, and every acknowledged write comes
  // (those whose events the crash left unrecorded, once the restarted node has recorded them).
  const names = (changes: ChangeEvent[]) => new Set([...consumed, ...changes].map((c) => c.name))
  const rest = await follow(restarted.url, (changes) => [...acknowledged].every((name) => names(changes).has(name)), { since: consumed.at(-1)!.cursor })
  const cursors = [...consumed, ...rest].map((c) => c.cursor)
  expect(new Set(cursors).size).toBe(cursors.length)
  const named = names(rest)
  for (let i = 0; i < 20; i++) expect(named).toContain(`before/${i}`)
  const missing = [...acknowledged].filter((name) => !named.has(name))
  expect(missing).toEqual([])
  // What the consumer read before the crash is still the same events under the same cursors.
  const fromTheStart = await follow(restarted.url, (changes) => changes.some((c) => c.cursor === consumed.at(-1)!.cursor))
  const byCursor = new Map(fromTheStart.map((c) => [c.cursor, c]))
  for (const event of consumed) expect(byCursor.get(event.cursor)).toEqual(event)
})

/** Reads Server-Sent Events from `res` until `count` events came. */
async function readEvents(res: Response, count: number): Promise<{ id: string; event: string; data: ChangeEvent }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  const events: { id: string; event: string; data: ChangeEvent }[] = []
  let buffered = ''
  while (events.length < count) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`the stream ended after ${events.length} events`)
    buffered += value
    let end: number
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]))
      if (fields.data !== undefined) events.push({ id: fields.id!, event: fields.event!, data: JSON.parse(fields.data) })
    }
  }
  await reader.cancel()
  return events
}

test('as Server-Sent Events: each event carries its cursor as id, and Last-Event-ID resumes after it', async () => {
  const node = await NodeProcess.start(['--data', tempDir(), '--admin-token', 'admin-token-of-the-change-feed-test'])
  const stream = await fetch(`${node.url}/v1/changes`, { headers: { accept: 'text/event-stream' } })
  expect(stream.headers.get('content-type')).toContain('text/event-stream')
  for (const name of ['sse/a', 'sse/b', 'sse/c']) expect(await writeText(node.url, name, name)).toBe(204)
  const first = await readEvents(stream, 3)
  expect(first.map((e) => [e.event, e.data.name])).toEqual([
    ['updated', 'sse/a'],
    ['updated', 'sse/b'],
    ['updated', 'sse/c'],
  ])
  for (const e of first) expect(e.id).toBe(e.data.cursor)

  expect(await writeText(node.url, 'sse/d', 'd')).toBe(204)
  const deleted = await fetch(`${node.url}/v1/docs/sse%2Fa`, { method: 'DELETE', headers: { authorization: 'Bearer admin-token-of-the-change-feed-test' } })
  expect(deleted.status).toBe(200)
  // As an EventSource reconnects: to the URL it was first given, with the last id it saw.
  const resumed = await fetch(`${node.url}/v1/changes?since=${first[0]!.id}`, { headers: { accept: 'text/event-stream', 'last-event-id': first[2]!.id } })
  const next = await readEvents(resumed, 2)
  expect(next.map((e) => [e.event, e.data.name, e.data.stateVector === null])).toEqual([
    ['updated', 'sse/d', false],
    ['deleted', 'sse/a', true],
  ])
  // A consumer that went away no longer holds its place among the waiting ones.
  await waitFor('both streams to be let go', async () => (await (await fetch(`${node.url}/metrics`)).text()).includes('syncmesh_change_feed_consumers 0'))
})

test('a reader sees only the documents its token may read; a stale cursor is a 410 naming where to resume', async () => {
  const tokenKey = 'the HS256 secret of the change feed test, 32+ chars'
  const node = await NodeProcess.start(['--data', tempDir(), '--token-key', tokenKey, '--max-change-events', '3'])
  const sign = (docs: string[], access: 'read' | 'write') =>
    new SignJWT({ sub: 'feed-test', docs, access }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(tokenKey))
  const writer = await sign(['**'], 'write')
  const reader = await sign(['shared/**'], 'read')
  for (const name of ['shared/1', 'private/1', 'shared/2']) expect(await writeText(node.url, name, 'z', writer)).toBe(204)

  const visible = await follow(node.url, (changes) => changes.length >= 2, { token: reader })
  expect(visible.map((c) => c.name)).toEqual(['shared/1', 'shared/2'])
  // Without a token, where tokens are required: nothing (these documents are in no public-read namespace).
  expect((await page(node.url, {})).body).toMatchObject({ changes: [] })
  expect((await page(node.url, {}, 'not.a.token')).status).toBe(401)
  expect((await page(node.url, { since: 'yesterday' }, reader)).body.error.code).toBe('invalid_cursor')
  expect((await page(node.url, { wait: '2m' }, reader)).status).toBe(400)

  const firstCursor = visible[0]!.cursor
  for (let i = 3; i < 7; i++) expect(await writeText(node.url, `shared/${i}`, 'z', writer)).toBe(204)
  // Events are recorded after the write is acknowledged: wait for the last one, or the oldest kept could move on
  // between the 410 and the resume below.
  await waitForValue('the last event', () => page(node.url, {}, writer), ({ body }) => (body as Page).changes.some((c) => c.name === 'shared/6'))
  // Three events are kept: the first is gone.
  const stale = await page(node.url, { since: firstCursor }, reader)
  expect(stale.status).toBe(410)
  expect(stale.body.error.code).toBe('cursor_expired')
  const kept = await follow(node.url, (changes) => changes.some((c) => c.name === 'shared/6'), { since: stale.body.error.oldestCursor, token: reader })
  expect(kept.length).toBeGreaterThan(0)
  expect(kept.length).toBeLessThanOrEqual(3)
})

test("the SDK's changes() resumes by itself across a node's restart, missing and repeating nothing", async () => {
  const data = tempDir()
  const first = await NodeProcess.start(['--data', data])
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(first.url).port) })
  const client = createClient({ endpoints: [proxy.url] })
  const abort = new AbortController()
  const received: ChangeEvent[] = []
  const following = (async () => {
    for await (const change of client.changes({ signal: abort.signal, maxBackoffMs: 200 })) received.push(change)
  })()
  const until = async (count: number) => {
    while (received.length < count) await new Promise((resolve) => setTimeout(resolve, 10))
  }
  for (const name of ['sdk/1', 'sdk/2']) expect(await writeText(first.url, name, name)).toBe(204)
  await until(2)

  await first.kill('SIGKILL')
  const second = await NodeProcess.start(['--data', data])
  proxy.setTarget({ host: '127.0.0.1', port: Number(new URL(second.url).port) })
  for (const name of ['sdk/3', 'sdk/4']) expect(await writeText(second.url, name, name)).toBe(204)
  await until(4)
  abort.abort()
  await following
  await client.close()
  expect(received.map((c) => c.name)).toEqual(['sdk/1', 'sdk/2', 'sdk/3', 'sdk/4'])
})

test('the SDK ends with a 410 SyncmeshApiError carrying oldestCursor when its cursor is not of this node', async () => {
  const node = await NodeProcess.start(['--data', tempDir()])
  const client = createClient({ endpoints: [node.url] })
  const iterator = client.changes({ since: '00000000-5' })
  const error = await iterator.next().catch((err: unknown) => err)
  expect(error).toBeInstanceOf(SyncmeshApiError)
  expect(error).toMatchObject({ status: 410, code: 'cursor_unknown', details: { oldestCursor: expect.stringMatching(/^[0-9a-f]{8}-0$/) } })
  await client.close()
})

test("every node's feed tells of the changes it holds, those replicated from another node too", async () => {
  const cluster = await startProxiedCluster()
  try {
    expect(await writeText(cluster.node('n1').url, 'replicated/doc', 'from n1')).toBe(204)
    for (const id of ['n2', 'n3']) {
      const changes = await follow(cluster.node(id).url, (seen) => seen.some((c) => c.name === 'replicated/doc'))
      expect(changes.map((c) => [c.type, c.name])).toContainEqual(['updated', 'replicated/doc'])
    }
    const cursors = await Promise.all(['n1', 'n2'].map(async (id) => (await page(cluster.node(id).url, {})).body.nextCursor as string))
    // Each node numbers its own feed: a cursor of one is not one of another.
    expect(cursors[0]!.split('-')[0]).not.toBe(cursors[1]!.split('-')[0])
    expect((await page(cluster.node('n2').url, { since: cursors[0]! })).body.error.code).toBe('cursor_unknown')
  } finally {
    await cluster.close()
  }
}, 60_000)
