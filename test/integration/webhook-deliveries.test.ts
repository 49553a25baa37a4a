import { afterEach, expect, test } from 'vitest'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { NodeProcess, killAllNodes } from '../helpers/node-process.js'
import { adminApi } from '../helpers/admin-api.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { waitFor, waitForValue } from '../helpers/wait.js'
import { writeText } from '../helpers/rest-writes.js'
import { WebhookReceiver } from '../helpers/webhook-receiver.js'
import { startProxiedCluster } from '../helpers/proxied-cluster.js'
import { responsibleNode } from '../../src/webhooks/responsibility.js'
import { webhookIdentity } from '../../src/control/webhook-identity.js'

const adminToken = 'webhook-deliveries-admin-token'
const receivers: WebhookReceiver[] = []

afterEach(async () => {
  await closeTestNodes()
  await killAllNodes()
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()))
  removeTempDirs()
})

async function receiver(): Promise<WebhookReceiver> {
  const started = await WebhookReceiver.start()
  receivers.push(started)
  return started
}

/** Fast retries, a short receiver timeout: what the tests wait for takes milliseconds, not minutes. */
const quickWebhooks = {
  retry: { baseDelayMs: 50, maxDelayMs: 200, retryForMs: 60_000 },
  timeoutMs: 500,
}

async function register(url: string, hook: WebhookReceiver, body: Record<string, unknown> = {}): Promise<string> {
  const { status, json } = await adminApi(adminToken, url, 'POST', '/v1/webhooks', { url: hook.url, events: ['updated', 'deleted'], ...body })
  expect(status).toBe(201)
  hook.verifyWith(json.secret)
  return json.id as string
}

async function deliveries(url: string, id: string, query = '', token = adminToken): Promise<any> {
  const { status, json } = await adminApi(token, url, 'GET', `/v1/webhooks/${id}/deliveries${query}`)
  expect(status).toBe(200)
  return json
}

test('a receiver that fails, times out and comes back gets every event, signed, and the attempts are listed', async () => {
  const node = await startTestNode({ adminToken, webhooks: quickWebhooks, changes: { quietMs: 10 } })
  const hook = await receiver()
  // Two errors, one request left without an answer, then a working receiver.
  hook.answer = (n) => (n < 2 ? 500 : n === 2 ? 'hang' : 204)
  const id = await register(node.url, hook, { prefix: 'hooked/' })
  const names = ['hooked/a', 'hooked/b', 'hooked/c']
  for (const name of names) expect(await writeText(node.url, name, name)).toBe(204)
  expect(await writeText(node.url, 'elsewhere/x', 'not under the prefix')).toBe(204)
  await waitFor('every update delivered', () => names.every((n) => hook.names('document.updated').has(n)))
  // Deleted only now: a deletion soon after the write may be coalesced with it into one event.
  expect((await adminApi(adminToken, node.url, 'DELETE', '/v1/docs/hooked%2Fa')).status).toBe(200)
  await waitFor('the deletion delivered', () => hook.names('document.deleted').has('hooked/a'))
  expect(hook.forged).toEqual([])
  expect([...hook.names('document.updated')].sort()).toEqual(names)
  const listed = await waitForValue('no delivery pending', () => deliveries(node.url, id), (answer) => answer.deliveries.every((d: any) => d.status !== 'pending'))
  expect(listed.responsibleNode).toBe('test')
  expect(listed.unreachable).toEqual([])
  const attempts = listed.deliveries.flatMap((d: any) => d.recentAttempts)
  expect(attempts.map((a: any) => a.status)).toEqual(expect.arrayContaining([500, null, 204]))
  expect(attempts.find((a: any) => a.status === null).error).toMatch(/no answer within 500 ms/)
  // Each delivered event once: a retry has the same webhook-id as the attempt it repeats.
  const acceptedIds = hook.accepted.map((d) => d.id)
  expect(new Set(acceptedIds).size).toBe(acceptedIds.length)
  expect(listed.deliveries.map((d: any) => d.status)).toEqual(Array(listed.deliveries.length).fill('delivered'))
  const metrics = await (await fetch(`${node.url}/metrics`)).text()
  expect(metrics).toMatch(/syncmesh_webhook_attempts_total\{outcome="retrying"\} [1-9]/)
})

test('a delivery retried past its window is marked failed, listed as failed, and sent no more', async () => {
  const node = await startTestNode({ adminToken, webhooks: { ...quickWebhooks, retry: { baseDelayMs: 20, maxDelayMs: 50, retryForMs: 400 } }, changes: { quietMs: 10 } })
  const hook = await receiver()
  hook.answer = () => 503
  const id = await register(node.url, hook)
  expect(await writeText(node.url, 'doomed', 'never received')).toBe(204)
  const failed = await waitForValue('the delivery failed', () => deliveries(node.url, id, '?status=failed'), (answer) => answer.deliveries.length === 1)
  expect(failed.deliveries[0]).toMatchObject({ name: 'doomed', status: 'failed', nextAttemptAt: null })
  expect(failed.deliveries[0].attempts).toBeGreaterThan(1)
  const requests = hook.requests.length
  await new Promise((resolve) => setTimeout(resolve, 300))
  expect(hook.requests.length).toBe(requests)
  expect((await deliveries(node.url, id, '?status=pending')).deliveries).toEqual([])
})

test('a node sends a new webhook the changes it recorded from its registration on, however late it learns of it', async () => {
  const node = await startTestNode({ adminToken, webhooks: quickWebhooks, changes: { quietMs: 10 } })
  // Recorded before the registration reached this node: as for a node that was down, or joined since. A
  // registration is dated by the clock of the node that took it, and each node starts a minute before that.
  expect(await writeText(node.url, 'early/1', 'x')).toBe(204)
  await waitFor('the change recorded', async () => ((await (await fetch(`${node.url}/v1/changes`)).json()) as { changes: unknown[] }).changes.length === 1)
  const hook = await receiver()
  await register(node.url, hook)
  await waitFor('the earlier change delivered', () => hook.names('document.updated').has('early/1'))
})

test('a removed webhook is sent nothing more, and its deliveries are gone', async () => {
  const node = await startTestNode({ adminToken, webhooks: quickWebhooks, changes: { quietMs: 10 } })
  const hook = await receiver()
  hook.answer = () => 500
  const id = await register(node.url, hook)
  expect(await writeText(node.url, 'before-removal', 'x')).toBe(204)
  await waitFor('a first attempt', () => hook.requests.length > 0)
  expect((await adminApi(adminToken, node.url, 'DELETE', `/v1/webhooks/${id}`)).status).toBe(200)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const requests = hook.requests.length
  expect(await writeText(node.url, 'after-removal', 'x')).toBe(204)
  await new Promise((resolve) => setTimeout(resolve, 500))
  expect(hook.requests.length).toBe(requests)
  expect((await adminApi(adminToken, node.url, 'GET', `/v1/webhooks/${id}/deliveries`)).status).toBe(404)
})

test('queued deliveries outlive kill -9: the restarted node delivers them', async () => {
  const data = tempDir()
  const args = ['--data', data, '--admin-token', adminToken, '--webhook-retry-base-ms', '50', '--webhook-timeout-ms', '500']
  const first = await NodeProcess.start(args)
  const hook = await receiver()
  hook.answer = () => 500
  const id = await register(first.url, hook)
  const names = ['durable/1', 'durable/2', 'durable/3']
  for (const name of names) expect(await writeText(first.url, name, name)).toBe(204)
  await waitForValue('three deliveries queued', () => deliveries(first.url, id, '?status=pending'), (answer) => answer.deliveries.length === 3)
  await first.kill('SIGKILL')

  hook.answer = () => 200
  const second = await NodeProcess.start(args)
  await waitFor('every queued delivery made', () => names.every((n) => hook.names('document.updated').has(n)), 30_000)
  expect(hook.forged).toEqual([])
  await second.kill('SIGTERM')
}, 60_000)

test('in a cluster one node sends each event once; when it is killed another takes over and misses nothing', async () => {
  const cluster = await startProxiedCluster({ extraArgs: ['--webhook-retry-base-ms', '50', '--webhook-timeout-ms', '500'] })
  try {
    const hook = await receiver()
    const first = cluster.node('n1').url
    const { status, json } = await adminApi(cluster.adminToken, first, 'POST', '/v1/webhooks', { url: hook.url, events: ['updated', 'deleted'] })
    expect(status).toBe(201)
    hook.verifyWith(json.secret)
    const id = json.id as string
    const responsibleSeenBy = (node: string) =>
      adminApi(cluster.adminToken, cluster.node(node).url, 'GET', `/v1/webhooks/${id}/deliveries?scope=node`).then((r) => r.json?.responsibleNode)
    const views = await waitForValue('every node names the same responsible node', () => Promise.all(['n1', 'n2', 'n3'].map(responsibleSeenBy)), (seen) => seen[0] !== undefined && seen.every((s) => s === seen[0]))
    const responsible = views[0] as string

    const calm = Array.from({ length: 9 }, (_, i) => `calm/${i}`)
    for (const [i, name] of calm.entries()) expect(await writeText(cluster.node(`n${(i % 3) + 1}`).url, name, name)).toBe(204)
    await waitFor('every calm event delivered', () => calm.every((n) => hook.names('document.updated').has(n)), 30_000)
    // Every replica recorded each change in its own feed; only the responsible node sent it.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(new Set(hook.accepted.map((d) => d.payload.data.node))).toEqual(new Set([responsible]))
    expect(hook.accepted.length).toBe(calm.length)

    hook.answer = () => 500
    const stormy = Array.from({ length: 6 }, (_, i) => `stormy/${i}`)
    const survivors = ['n1', 'n2', 'n3'].filter((n) => n !== responsible)
    for (const name of stormy) expect(await writeText(cluster.node(survivors[0]!).url, name, name)).toBe(204)
    await waitForValue(
      'the responsible node holding the stormy events',
      () => deliveries(cluster.node(responsible).url, id, '?scope=node&status=pending', cluster.adminToken),
      (answer) => answer.deliveries.length === stormy.length,
      { timeoutMs: 30_000 },
    )
    await cluster.stop(responsible)
    expect((await adminApi(cluster.adminToken, cluster.node(survivors[0]!).url, 'DELETE', '/v1/docs/calm%2F0')).status).toBe(200)
    const acceptedBefore = hook.accepted.length
    hook.answer = () => 204
    await waitFor('the stormy events and the deletion delivered by a survivor', () => stormy.every((n) => hook.names('document.updated').has(n)) && hook.names('document.deleted').has('calm/0'), 30_000)
    const afterTakeover = hook.accepted.slice(acceptedBefore)
    expect(new Set(afterTakeover.map((d) => d.payload.data.node)).has(responsible)).toBe(false)
    // What the dead node had delivered it told the others: the calm events are not sent again.
    expect(afterTakeover.filter((d) => d.payload.data.name.startsWith('calm/') && d.payload.type === 'document.updated')).toEqual([])
    expect(hook.forged).toEqual([])
    const listed = await deliveries(cluster.node(survivors[0]!).url, id, '', cluster.adminToken)
    expect(listed.unreachable.map((u: any) => u.node)).toEqual([responsible])
  } finally {
    await cluster.close()
  }
}, 120_000)

test('a node that joins and takes a webhook over sends the changes still pending elsewhere', async () => {
  const cluster = await startProxiedCluster({ spares: 1, extraArgs: ['--webhook-retry-base-ms', '50', '--webhook-timeout-ms', '500'] })
  try {
    // A registration whose webhook n4 will be responsible for, once it is a member.
    let key = 0
    while (responsibleNode(webhookIdentity(cluster.clusterSecret, `join-${key}`).id, ['n1', 'n2', 'n3', 'n4']) !== 'n4') key++
    const hook = await receiver()
    hook.answer = () => 503
    const { status, json } = await adminApi(cluster.adminToken, cluster.node('n1').url, 'POST', '/v1/webhooks', { url: hook.url, events: ['updated'] }, { 'idempotency-key': `join-${key}` })
    expect(status).toBe(201)
    hook.verifyWith(json.secret)
    const names = Array.from({ length: 5 }, (_, i) => `joined/${i}`)
    for (const name of names) expect(await writeText(cluster.node('n2').url, name, name)).toBe(204)
    await waitFor('the deliveries queued', async () => (await deliveries(cluster.node('n1').url, json.id, '?status=pending', cluster.adminToken)).deliveries.length >= names.length)

    await cluster.addNode('n4', cluster.node('n1').url)
    await waitFor('n4 responsible', async () => (await deliveries(cluster.node('n1').url, json.id, '?scope=node', cluster.adminToken)).responsibleNode === 'n4', 30_000)
    hook.answer = () => 204
    await waitFor('every change delivered', () => names.every((n) => hook.names('document.updated').has(n)), 30_000)
    expect(hook.forged).toEqual([])
  } finally {
    await cluster.close()
  }
}, 120_000)

test('a deletion is sent by the responsible node although the document never reached it, and is in its feed once, restarts or not', async () => {
  const cluster = await startProxiedCluster({ extraArgs: ['--webhook-retry-base-ms', '50', '--webhook-timeout-ms', '500'] })
  try {
    // A webhook that n3 sends, and n1 would send only alone: once n1 links with anyone, it is not its to send.
    let key = 0
    const ranking = (k: number) => {
      const id = webhookIdentity(cluster.clusterSecret, `unheld-${k}`).id
      return [responsibleNode(id, ['n1', 'n2', 'n3']), responsibleNode(id, ['n1', 'n2'])]
    }
    while (ranking(key).join() !== 'n3,n2') key++
    const hook = await receiver()
    const { status, json } = await adminApi(cluster.adminToken, cluster.node('n1').url, 'POST', '/v1/webhooks', { url: hook.url, events: ['updated', 'deleted'] }, { 'idempotency-key': `unheld-${key}` })
    expect(status).toBe(201)
    hook.verifyWith(json.secret)
    for (const node of ['n1', 'n2', 'n3']) {
      const responsible = () => adminApi(cluster.adminToken, cluster.node(node).url, 'GET', `/v1/webhooks/${json.id}/deliveries?scope=node`).then((r) => r.json?.responsibleNode)
      await waitFor(`${node} names n3 responsible`, async () => (await responsible()) === 'n3')
    }

    // Written on n1 alone, deleted by the majority: n2 and n3 never hold it.
    cluster.partition(['n1'], ['n2', 'n3'])
    expect(await writeText(cluster.node('n1').url, 'unheld', 'only on n1')).toBe(204)
    await waitFor('the deletion committed by the majority', async () => (await adminApi(cluster.adminToken, cluster.node('n2').url, 'DELETE', '/v1/docs/unheld')).status === 200, 30_000)
    cluster.heal()
    await waitFor('the deletion delivered', () => hook.names('document.deleted').has('unheld'), 30_000)
    expect(hook.accepted.filter((d) => d.payload.type === 'document.deleted').map((d) => d.payload.data.node)).toEqual(['n3'])

    const feedOfN3 = async () => {
      const { json: page } = await adminApi(cluster.adminToken, cluster.node('n3').url, 'GET', '/v1/changes')
      return (page?.changes ?? []).map((c: { type: string; name: string }) => `${c.type} ${c.name}`) as string[]
    }
    expect(await feedOfN3()).toEqual(['deleted unheld'])
    // The restarted node replays its log, that deletion included: it is not recorded again. A deletion made
    // after the restart is, once n3 has applied everything before it.
    await cluster.stop('n3')
    await cluster.restart('n3')
    await waitFor('a later deletion committed', async () => (await adminApi(cluster.adminToken, cluster.node('n1').url, 'DELETE', '/v1/docs/later')).status === 200, 30_000)
    await waitFor('the later deletion in the feed of n3', async () => (await feedOfN3()).includes('deleted later'), 30_000)
    expect(await feedOfN3()).toEqual(['deleted unheld', 'deleted later'])
    expect(hook.forged).toEqual([])
  } finally {
    await cluster.close()
  }
}, 120_000)
