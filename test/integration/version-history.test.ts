import { SignJWT } from 'jose'
import * as Y from 'yjs'
import { afterEach, describe, expect, test } from 'vitest'
import { connectSynced, destroyProviders } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { waitFor, waitForValue } from '../helpers/wait.js'

const adminToken = 'admin-token-of-the-history-tests'
const tokenKey = 'the HS256 secret of the history tests, 32+ chars'

afterEach(async () => {
  destroyProviders()
  await closeTestNodes()
  removeTempDirs()
})

type Fetch = (path: string, init?: RequestInit) => Promise<Response>

function api(url: string, token?: string): Fetch {
  return (path, init = {}) =>
    fetch(`${url}${path}`, {
      ...init,
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...(init.body !== undefined && { 'content-type': 'application/json' }), ...init.headers },
    })
}

async function json<T = Record<string, unknown>>(res: Response | Promise<Response>, status = 200): Promise<T> {
  const answer = await res
  const body = (await answer.json()) as T
  expect({ status: answer.status, body }).toMatchObject({ status })
  return body
}

interface Version {
  id: string
  label: string
  time: string
  by: string | null
  kind: 'named' | 'auto'
  editors: string[]
}

/** A client edit of `name` through REST: `change` runs on a copy of the document as the node holds it. */
async function edit(call: Fetch, name: string, change: (doc: Y.Doc) => void): Promise<void> {
  const doc = new Y.Doc()
  const stored = await call(`/v1/docs/${encodeURIComponent(name)}/update`)
  if (stored.status === 200) Y.applyUpdate(doc, new Uint8Array(await stored.arrayBuffer()))
  const before = Y.encodeStateVector(doc)
  change(doc)
  const res = await call(`/v1/docs/${encodeURIComponent(name)}/update`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Y.encodeStateAsUpdate(doc, before) as Uint8Array<ArrayBuffer>,
  })
  expect(res.status).toBe(204)
}

const saveVersion = (call: Fetch, name: string, label: string) =>
  json<Version>(call(`/v1/docs/${encodeURIComponent(name)}/versions`, { method: 'POST', body: JSON.stringify({ label }) }), 201)

describe('version history on one node', () => {
  test('named versions are listed, read as JSON and as an update, compared, and restored by a new update live clients get', async () => {
    const node = await startTestNode({ adminToken, history: { quietMs: 0, intervalMs: 0 } })
    const call = api(node.url, adminToken)
    await edit(call, 'notes/a', (d) => {
      d.getText('body').insert(0, 'Who deleted my paragraph?')
      d.getMap('meta').set('title', 'Draft')
    })
    const first = await saveVersion(call, 'notes/a', 'first draft')
    expect(first).toMatchObject({ label: 'first draft', by: null, kind: 'named' })
    expect(first.id).toMatch(/^v_[0-9a-f]{20}$/)

    const live = new Y.Doc()
    const provider = await connectSynced(node.url, 'notes/a', live)
    await edit(call, 'notes/a', (d) => {
      d.getText('body').delete(0, 'Who deleted '.length)
      d.getText('body').insert(0, 'Here is ')
      d.getMap('meta').set('title', 'Final')
    })
    await waitFor('the live client has the edit', () => live.getText('body').toString() === 'Here is my paragraph?')
    const second = await saveVersion(call, 'notes/a', 'second')

    const { versions } = await json<{ versions: Version[] }>(call('/v1/docs/notes/a/versions'))
    expect(versions.map((v) => v.id)).toEqual([second.id, first.id])
    expect(await json(call(`/v1/docs/notes/a/versions/${first.id}`))).toEqual({ body: 'Who deleted my paragraph?', meta: { title: 'Draft' } })
    const asUpdate = await call(`/v1/docs/notes%2Fa/versions/${first.id}/update`)
    expect(asUpdate.headers.get('content-type')).toBe('application/octet-stream')
    const rebuilt = new Y.Doc()
    Y.applyUpdate(rebuilt, new Uint8Array(await asUpdate.arrayBuffer()))
    expect(rebuilt.getText('body').toString()).toBe('Who deleted my paragraph?')

    expect(await json(call(`/v1/docs/notes/a/versions/${first.id}/diff/${second.id}`))).toEqual({
      from: first.id,
      to: second.id,
      roots: {
        body: { kind: 'text', inserted: ['Here is'], deleted: ['Who deleted'] },
        meta: { kind: 'map', changed: [{ key: 'title', before: 'Draft', after: 'Final' }] },
      },
    })
    expect(await json(call(`/v1/docs/notes/a/versions/${second.id}/diff/current`))).toEqual({ from: second.id, to: 'current', roots: {} })

    const restored = await json<{ restored: Version; before: Version | null }>(call(`/v1/docs/notes/a/versions/${first.id}/restore`, { method: 'POST' }))
    expect(restored.restored.id).toBe(first.id)
    // The state before was the newest version already: no second copy of it.
    expect(restored.before).toBeNull()
    await waitFor('the live client has the restored text', () => live.getText('body').toString() === 'Who deleted my paragraph?')
    expect(live.getMap('meta').get('title')).toBe('Draft')
    expect(await json(call('/v1/docs/notes/a'))).toEqual({ body: 'Who deleted my paragraph?', meta: { title: 'Draft' } })
    expect(await json(call(`/v1/docs/notes/a/versions/${first.id}/diff/current`))).toEqual({ from: first.id, to: 'current', roots: {} })

    // A restore is undone by restoring the version before it.
    await json(call(`/v1/docs/notes/a/versions/${second.id}/restore`, { method: 'POST' }))
    await waitFor('the live client has the second version again', () => live.getText('body').toString() === 'Here is my paragraph?')
    provider.destroy()
  })

  test('restoring keeps the state before as an automatic version', async () => {
    const node = await startTestNode({ adminToken, history: { quietMs: 0, intervalMs: 0 } })
    const call = api(node.url, adminToken)
    await edit(call, 'doc', (d) => d.getText('body').insert(0, 'one'))
    const one = await saveVersion(call, 'doc', 'one')
    await edit(call, 'doc', (d) => d.getText('body').insert(3, ' two'))
    const { before } = await json<{ before: Version | null }>(call(`/v1/docs/doc/versions/${one.id}/restore`, { method: 'POST' }))
    expect(before).toMatchObject({ kind: 'auto', label: 'Before restoring "one"' })
    expect(await json(call(`/v1/docs/doc/versions/${before!.id}`))).toEqual({ body: 'one two' })
    expect(await json(call('/v1/docs/doc'))).toEqual({ body: 'one' })
  })

  test('automatic versions after a quiet period and during long editing, one per state', async () => {
    const node = await startTestNode({ adminToken, history: { quietMs: 300, intervalMs: 1_000 } })
    const call = api(node.url, adminToken)
    await edit(call, 'auto', (d) => d.getText('body').insert(0, 'quiet'))
    const [quiet] = await waitForValue(
      'an automatic version after the quiet period',
      async () => (await json<{ versions: Version[] }>(call('/v1/docs/auto/versions'))).versions,
      (versions) => versions.length === 1,
    )
    expect(quiet!).toMatchObject({ kind: 'auto', label: 'Automatic', by: null })
    expect(await json(call(`/v1/docs/auto/versions/${quiet!.id}`))).toEqual({ body: 'quiet' })

    // Edits every 100 ms never leave the document quiet: the interval makes versions anyway.
    const stop = Date.now() + 2_500
    for (let i = 0; Date.now() < stop; i++) {
      await edit(call, 'auto', (d) => d.getText('body').insert(0, `${i % 10}`))
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const { versions } = await json<{ versions: Version[] }>(call('/v1/docs/auto/versions'))
    expect(versions.length).toBeGreaterThanOrEqual(2)
    expect(new Set(versions.map((v) => v.id)).size).toBe(versions.length)
  })

  test('reading versions needs read access, making and restoring write access; who made a version is its token subject', async () => {
    const node = await startTestNode({ adminToken, tokenKey, history: { quietMs: 0, intervalMs: 0 } })
    const sign = (sub: string, access: 'read' | 'write') =>
      new SignJWT({ sub, docs: ['team/**'], access }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(tokenKey))
    const writer = api(node.url, await sign('ada', 'write'))
    const reader = api(node.url, await sign('bob', 'read'))
    const anonymous = api(node.url)
    await edit(writer, 'team/doc', (d) => d.getText('body').insert(0, 'text'))
    const made = await saveVersion(writer, 'team/doc', 'by ada')
    expect(made.by).toBe('ada')

    expect((await json<{ versions: Version[] }>(reader('/v1/docs/team/doc/versions'))).versions).toHaveLength(1)
    await json(reader(`/v1/docs/team/doc/versions/${made.id}`))
    await json(reader(`/v1/docs/team/doc/versions/${made.id}/diff/current`))
    expect((await json<{ error: { code: string } }>(reader('/v1/docs/team/doc/versions', { method: 'POST', body: '{"label":"x"}' }), 403)).error.code).toBe('forbidden')
    await json(reader(`/v1/docs/team/doc/versions/${made.id}/restore`, { method: 'POST' }), 403)
    await json(anonymous('/v1/docs/team/doc/versions'), 401)
    await json(anonymous(`/v1/docs/team/doc/versions/${made.id}/update`), 401)
  })

  test('an automatic version names who edited since the one before: over WebSocket and REST, by their token subjects', async () => {
    const node = await startTestNode({ adminToken, tokenKey, history: { quietMs: 300, intervalMs: 0 } })
    const sign = (sub: string) =>
      new SignJWT({ sub, docs: ['team/**'], access: 'write' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(tokenKey))
    const admin = api(node.url, adminToken)
    const versionsOf = async () => (await json<{ versions: Version[] }>(admin('/v1/docs/team/notes/versions'))).versions

    const live = await connectSynced(node.url, 'team/notes', new Y.Doc(), { token: await sign('bea') })
    live.doc.getText('body').insert(0, 'typed live. ')
    await edit(api(node.url, await sign('al')), 'team/notes', (d) => d.getText('body').insert(0, 'sent by REST. '))
    const [both] = await waitForValue('an automatic version of both edits', versionsOf, (versions) => versions.length === 1)
    expect(both).toMatchObject({ kind: 'auto', by: null, editors: ['al', 'bea'] })

    await edit(api(node.url, await sign('al')), 'team/notes', (d) => d.getText('body').insert(0, 'more. '))
    const [alone] = await waitForValue('a second automatic version', versionsOf, (versions) => versions.length === 2)
    expect(alone).toMatchObject({ kind: 'auto', by: 'al', editors: ['al'] })

    // The admin token has no subject: its edits make a version that names nobody.
    await edit(admin, 'team/notes', (d) => d.getText('body').insert(0, 'admin. '))
    const [nobody] = await waitForValue('a third automatic version', versionsOf, (versions) => versions.length === 3)
    expect(nobody).toMatchObject({ kind: 'auto', by: null, editors: [] })
    expect((await saveVersion(admin, 'team/notes', 'named')).editors).toEqual([])
  })

  test('bad requests get clear errors', async () => {
    const node = await startTestNode({ adminToken, history: { quietMs: 0, intervalMs: 0 } })
    const call = api(node.url, adminToken)
    await json(call('/v1/docs/none/versions', { method: 'POST', body: '{"label":"x"}' }), 404)
    await edit(call, 'doc', (d) => d.getText('body').insert(0, 'text'))
    expect((await json<{ error: { code: string } }>(call('/v1/docs/doc/versions/v_0123456789abcdef0123'), 404)).error.code).toBe('version_not_found')
    expect((await json<{ error: { code: string } }>(call('/v1/docs/doc/versions/nope'), 400)).error.code).toBe('invalid_version_id')
    expect((await json<{ error: { code: string } }>(call('/v1/docs/doc/versions', { method: 'POST', body: '{"label":""}' }), 400)).error.code).toBe('invalid_body')
    await json(call('/v1/docs/doc/versions', { method: 'POST', body: JSON.stringify({ label: 'x'.repeat(201) }) }), 400)
    await json(call('/v1/docs/doc/versions', { method: 'POST', body: 'not json' }), 400)
    expect((await json<{ versions: Version[] }>(call('/v1/docs/doc/versions'))).versions).toEqual([])
  })
})

describe('history storage stays bounded', () => {
  test('compaction keeps what retained versions show, and drops it once they are retired', async () => {
    const node = await startTestNode({
      adminToken,
      docs: { compactAfterUpdates: 10 },
      history: { quietMs: 0, intervalMs: 0, defaults: { keepVersions: 2, keepDays: 30 } },
    })
    const call = api(node.url, adminToken)
    const long = 'a paragraph someone will delete. '.repeat(200)
    await edit(call, 'doc', (d) => d.getText('body').insert(0, long))
    const old = await saveVersion(call, 'doc', 'with the paragraph')
    await edit(call, 'doc', (d) => d.getText('body').delete(0, long.length))
    const compactions = async () => Number(/syncmesh_compactions_total (\d+)/.exec(await (await fetch(`${node.url}/metrics`)).text())![1])
    const before = await compactions()
    for (let i = 0; i < 12; i++) await edit(call, 'doc', (d) => d.getText('body').insert(0, `${i}`))
    await waitFor('a compaction', async () => (await compactions()) > before)
    expect(await json(call(`/v1/docs/doc/versions/${old.id}`))).toEqual({ body: long })

    // Two newer versions retire it (keepVersions 2); the next compaction drops the paragraph's content.
    await saveVersion(call, 'doc', 'newer')
    await edit(call, 'doc', (d) => d.getText('body').insert(0, 'x'))
    await saveVersion(call, 'doc', 'newest')
    expect((await json<{ versions: Version[] }>(call('/v1/docs/doc/versions'))).versions.map((v) => v.label)).toEqual(['newest', 'newer'])
    const compacted = await compactions()
    for (let i = 0; i < 12; i++) await edit(call, 'doc', (d) => d.getText('body').insert(0, `${i}`))
    await waitFor('another compaction', async () => (await compactions()) > compacted)
    const meta = node.docs.meta('doc')!
    expect(meta.baseBytes + meta.logBytes).toBeLessThan(long.length)
  })

  test("a namespace's retention settings: a count, an age, or no history at all", async () => {
    const node = await startTestNode({ adminToken, history: { quietMs: 0, intervalMs: 0 } })
    const call = api(node.url, adminToken)
    const putNamespace = (name: string, history: object) =>
      json(call(`/v1/namespaces/${name}`, { method: 'PUT', body: JSON.stringify({ schema: { roots: { body: 'text' } }, history }) }))
    await putNamespace('one', { keepVersions: 1 })
    await putNamespace('brief', { keepDays: 1 / 86_400 })
    await putNamespace('none', { keepVersions: 0 })
    expect((await json<{ namespaces: { name: string; history?: object }[] }>(call('/v1/namespaces'))).namespaces.find((n) => n.name === 'one')?.history).toEqual({ keepVersions: 1 })
    for (const name of ['one/doc', 'brief/doc', 'none/doc']) await edit(call, name, (d) => d.getText('body').insert(0, 'text'))

    await saveVersion(call, 'one/doc', 'a')
    await edit(call, 'one/doc', (d) => d.getText('body').insert(0, 'more '))
    await saveVersion(call, 'one/doc', 'b')
    expect((await json<{ versions: Version[] }>(call('/v1/docs/one/doc/versions'))).versions.map((v) => v.label)).toEqual(['b'])

    await saveVersion(call, 'brief/doc', 'soon old')
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    await edit(call, 'brief/doc', (d) => d.getText('body').insert(0, 'more '))
    await saveVersion(call, 'brief/doc', 'fresh')
    expect((await json<{ versions: Version[] }>(call('/v1/docs/brief/doc/versions'))).versions.map((v) => v.label)).toEqual(['fresh'])

    const refused = await json<{ error: { code: string } }>(call('/v1/docs/none/doc/versions', { method: 'POST', body: '{"label":"x"}' }), 409)
    expect(refused.error.code).toBe('history_disabled')
    await json(call('/v1/namespaces/one', { method: 'PUT', body: JSON.stringify({ schema: { roots: {} }, history: { keepVersions: -1 } }) }), 400)
  })
})
