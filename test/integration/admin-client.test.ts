import { SignJWT } from 'jose'
import * as Y from 'yjs'
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from 'vitest'
import { createAdminClient, createDocsClient, SyncmeshApiError, type ClusterOverview } from '../../client/index.js'
import type { SyncmeshNode } from '../../src/node.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { startProxiedCluster, type ProxiedCluster } from '../helpers/proxied-cluster.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const adminToken = 'admin-token-of-the-admin-client-tests'
const tokenKey = 'the HS256 secret of the admin client tests'

function textUpdate(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('body').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

const clientToken = (claims: { sub: string; docs: string[]; access: 'read' | 'write' }) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(tokenKey))

async function rejection(promise: Promise<unknown>): Promise<SyncmeshApiError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(SyncmeshApiError)
  return err as SyncmeshApiError
}

describe('the admin client, typed by the node’s Hono app, against one node', () => {
  let node: SyncmeshNode

  beforeAll(async () => {
    node = await startTestNode({ adminToken, tokenKey })
  })
  afterAll(async () => {
    await closeTestNodes()
    removeTempDirs()
  })

  test('answers carry the route’s declared types, and inputs are checked at compile time', async () => {
    const admin = createAdminClient({ url: node.url, token: adminToken })
    const view = await admin.cluster({ consistent: true })
    expectTypeOf(view).toEqualTypeOf<ClusterOverview>()
    expectTypeOf(view.leader).toEqualTypeOf<string | null>()
    expectTypeOf(view.members[0]!.role).toEqualTypeOf<'voter' | 'replica'>()
    expectTypeOf(view.replication.fingerprint).toEqualTypeOf<string>()
    expectTypeOf<ClusterOverview['peers'][number]['liveUpdatesSent']>().toEqualTypeOf<number>()
    expect(view.id).toBe('test')
    expect(view.leader).toBe('test')
    expect(view.members).toEqual([{ id: 'test', url: node.url, role: 'voter', publicKey: expect.stringMatching(/^[\w-]{43}$/) }])

    // @ts-expect-error a member needs a url
    await rejection(admin.addMember({ id: 'n9' }))
    // @ts-expect-error a root kind is one of text, map, array, xml
    const wrongKind = await rejection(admin.putNamespace('notes', { schema: { roots: { body: 'tree' } } }))
    expect([wrongKind.status, wrongKind.code]).toEqual([400, 'invalid_body'])
  })

  test('namespaces: put, list and delete, with the answers the API documents', async () => {
    const admin = createAdminClient({ url: node.url, token: async () => adminToken })
    const put = await admin.putNamespace('notes', { schema: { roots: { body: 'text' } }, publicRead: true })
    expectTypeOf(put.name).toEqualTypeOf<string>()
    expect(put).toMatchObject({ name: 'notes', schema: { roots: { body: 'text' } }, publicRead: true })
    expect((await admin.namespaces()).namespaces.map((ns) => ns.name)).toEqual(['notes'])
    expect(await admin.deleteNamespace('notes')).toEqual({ name: 'notes', deleted: true })
    expect((await admin.namespaces()).namespaces).toEqual([])
    const missing = await rejection(admin.deleteNamespace('notes'))
    expect([missing.status, missing.code]).toEqual([404, 'not_found'])
  })

  test('deleteDoc removes a document for good; names with slashes and spaces are encoded', async () => {
    const admin = createAdminClient({ url: node.url, token: adminToken })
    const docs = createDocsClient({ url: node.url, token: adminToken })
    const name = 'team a/plans 2027'
    await docs.writeUpdate(name, textUpdate('draft'))
    expect(await docs.readJson(name)).toEqual({ body: 'draft' })
    expect(await admin.deleteDoc(name)).toEqual({ name, deleted: true })
    const gone = await rejection(docs.writeUpdate(name, textUpdate('again')))
    expect([gone.status, gone.code]).toEqual([410, 'deleted'])
  })

  test('webhooks: registered with a secret shown once, listed without it, removed; a retried key gets the same webhook', async () => {
    const admin = createAdminClient({ url: node.url, token: adminToken })
    const made = await admin.addWebhook({ url: 'https://hooks.example/syncmesh', events: ['deleted', 'updated'], prefix: 'team/' }, { idempotencyKey: 'hook-1' })
    expect(made).toEqual({
      id: expect.stringMatching(/^wh_[a-z0-9]{20}$/),
      url: 'https://hooks.example/syncmesh',
      events: ['updated', 'deleted'],
      prefix: 'team/',
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
    })
    expect(await admin.addWebhook({ url: 'https://hooks.example/syncmesh', events: ['updated'] }, { idempotencyKey: 'hook-1' })).toEqual(made)
    const other = await admin.addWebhook({ url: 'http://127.0.0.1:9/hook', events: ['updated'] })
    expect(other.id).not.toBe(made.id)
    expect(other.secret).not.toBe(made.secret)
    const { secret: _secret, ...listed } = made
    const list = await admin.webhooks()
    expect(list.webhooks).toHaveLength(2)
    expect(list.webhooks).toContainEqual(listed)
    expect(JSON.stringify(list)).not.toContain('whsec_')

    for (const [spec, field] of [
      [{ url: 'ftp://hooks.example', events: ['updated'] }, 'url'],
      [{ url: 'https://hooks.example', events: [] }, 'events'],
      [{ url: 'https://hooks.example', events: ['updated', 'updated'] }, 'events'],
      [{ url: 'https://hooks.example', events: ['created'] }, 'events'],
    ] as const) {
      const refused = await rejection(admin.addWebhook(spec as never))
      expect([refused.status, refused.code, refused.message.startsWith(field)]).toEqual([400, 'invalid_body', true])
    }
    expect(await admin.removeWebhook(made.id)).toEqual({ id: made.id, deleted: true })
    const gone = await rejection(admin.removeWebhook(made.id))
    expect([gone.status, gone.code]).toEqual([404, 'not_found'])
    expect((await rejection(admin.removeWebhook('not-an-id'))).code).toBe('invalid_webhook_id')
    const anonymous = await fetch(`${node.url}/v1/webhooks`)
    expect(anonymous.status).toBe(401)
    await admin.removeWebhook(other.id)
  })

  test('a wrong admin token, a client token, and no server are errors the caller can tell apart', async () => {
    const wrong = await rejection(createAdminClient({ url: node.url, token: 'not-it' }).cluster())
    expect([wrong.status, wrong.code]).toEqual([403, 'forbidden'])
    const writer = await clientToken({ sub: 'u', docs: ['**'], access: 'write' })
    const notAdmin = await rejection(createAdminClient({ url: node.url, token: writer }).namespaces())
    expect(notAdmin.status).toBe(403)
    await expect(createAdminClient({ url: 'http://127.0.0.1:1', token: adminToken }).cluster()).rejects.toThrow(TypeError)
  })

  test('the docs client sends a client token and lists only what it may read', async () => {
    const write = await clientToken({ sub: 'w', docs: ['open/**'], access: 'write' })
    const admin = createDocsClient({ url: node.url, token: adminToken })
    await admin.writeUpdate('closed/x', textUpdate('secret'))
    const docs = createDocsClient({ url: node.url, token: async () => write })
    await docs.writeUpdate('open/y', textUpdate('shared'))
    const names = []
    for await (const doc of docs.listAll('', 1)) names.push(doc.name)
    expect(names).toEqual(['open/y'])
    const refused = await rejection(docs.readUpdate('closed/x'))
    expect([refused.status, refused.code]).toEqual([403, 'forbidden'])
    // Without a token, only public-read namespaces are listed; there are none here.
    expect((await createDocsClient({ url: node.url }).list()).docs).toEqual([])
    const anonymous = await rejection(createDocsClient({ url: node.url }).readJson('open/y'))
    expect([anonymous.status, anonymous.code]).toEqual([401, 'token_missing'])
  })
})

describe('the admin client against a follower of a three-node cluster', () => {
  let cluster: ProxiedCluster

  beforeAll(async () => {
    cluster = await startProxiedCluster()
  }, 60_000)
  afterAll(async () => {
    await cluster.close()
  })

  test('writes are forwarded to the leader and answered with the same types; a retried key applies once', async () => {
    const leader = await cluster.waitForLeader(['n1', 'n2', 'n3'])
    const follower = cluster.nodes.find((n) => n.id !== leader)!
    const admin = createAdminClient({ url: follower.url, token: cluster.adminToken })

    const added = await admin.addMember({ id: 'n9', url: 'http://127.0.0.1:9' }, { idempotencyKey: 'add-n9' })
    expect(added).toEqual({ id: 'n9', url: 'http://127.0.0.1:9', role: 'replica' })
    // The same key again is the same request, answered as the first time rather than 409 conflict.
    expect(await admin.addMember({ id: 'n9', url: 'http://127.0.0.1:9' }, { idempotencyKey: 'add-n9' })).toEqual(added)
    const conflict = await rejection(admin.addMember({ id: 'n9', url: 'http://127.0.0.1:9' }))
    expect([conflict.status, conflict.code]).toEqual([409, 'conflict'])

    const consistent = await admin.cluster({ consistent: true })
    expect(consistent.members.map((m) => m.id)).toEqual(['n1', 'n2', 'n3', 'n9'])
    // A consistent read goes through the leader, which answers with its own view.
    expect(consistent.id).toBe(leader)
    expect(consistent.peers.map((p) => p.id)).toEqual(['n1', 'n2', 'n3', 'n9'].filter((id) => id !== leader))
    expect(await admin.removeMember('n9')).toEqual({ id: 'n9', removed: true })

    await admin.putNamespace('forwarded', { schema: { roots: { body: 'text' } } })
    const onLeader = createAdminClient({ url: cluster.node(leader).url, token: cluster.adminToken })
    expect((await onLeader.namespaces()).namespaces.map((ns) => ns.name)).toEqual(['forwarded'])

    // A webhook registered through a follower is made by the leader, and every member holds it.
    const hook = await admin.addWebhook({ url: 'https://hooks.example/cluster', events: ['updated'] }, { idempotencyKey: 'cluster-hook' })
    expect(await admin.addWebhook({ url: 'https://hooks.example/cluster', events: ['updated'] }, { idempotencyKey: 'cluster-hook' })).toEqual(hook)
    for (const member of cluster.nodes) {
      const client = createAdminClient({ url: member.url, token: cluster.adminToken })
      await waitFor(`${member.id} to hold the webhook`, async () => (await client.webhooks()).webhooks.some((w) => w.id === hook.id))
    }

    const moved = await admin.transferLeadership(follower.id)
    expectTypeOf(moved.leader).toEqualTypeOf<string | null>()
    expect(await cluster.waitForLeader(['n1', 'n2', 'n3'])).toBe(follower.id)
  }, 60_000)
})
