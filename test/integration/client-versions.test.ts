import { SignJWT } from 'jose'
import { afterEach, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import { createClient, createDocsClient, SyncmeshApiError, type SyncmeshClient } from '../../client/index.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const tokenKey = 'the HS256 secret of the client history tests, 32+'
const clients: SyncmeshClient[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close()
  await closeTestNodes()
  removeTempDirs()
})

const sign = (sub: string, access: 'read' | 'write') =>
  new SignJWT({ sub, docs: ['team/**'], access }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(tokenKey))

function client(options: Parameters<typeof createClient>[0]): SyncmeshClient {
  const created = createClient({ maxBackoffMs: 200, ...options })
  clients.push(created)
  return created
}

/** A node that makes no automatic versions on its own: every version in these tests is one they asked for. */
const startNode = () => startTestNode({ tokenKey, history: { quietMs: 0, intervalMs: 0 } })

describe('the client SDK and version history', () => {
  test('a client saves a version, lists, previews and compares it, and a restore shows the old text to it at once and to a live client', async () => {
    const node = await startNode()
    // A token function, asked before each request, and a plain string: both are what the REST calls send.
    const alice = client({ endpoints: [node.url], token: () => sign('alice', 'write') }).open('team/notes')
    const bob = client({ endpoints: [node.url], token: await sign('bob', 'write') }).open('team/notes')
    await Promise.all([alice.whenSynced, bob.whenSynced])
    const text = alice.doc.getText('body')

    // Saved straight after the keystrokes: saveVersion waits until the node holds them.
    text.insert(0, 'Who deleted my paragraph?')
    const draft = await alice.saveVersion('first draft')
    expect(draft).toMatchObject({ label: 'first draft', by: 'alice', kind: 'named' })
    expect(draft.id).toMatch(/^v_[0-9a-f]{20}$/)

    text.delete(0, 'Who deleted '.length)
    text.insert(0, 'Here is ')
    await waitFor('bob to see the edit', () => bob.doc.getText('body').toString() === 'Here is my paragraph?')

    expect((await bob.versions()).map((v) => v.id)).toEqual([draft.id])
    expect(await bob.version(draft.id)).toEqual({ body: 'Who deleted my paragraph?' })
    const diff = await alice.diff(draft.id)
    expect(diff).toEqual({ from: draft.id, to: 'current', roots: { body: { kind: 'text', inserted: ['Here is'], deleted: ['Who deleted'] } } })

    const { restored, before } = await alice.restore(draft.id)
    expect(restored.id).toBe(draft.id)
    expect(before).toMatchObject({ kind: 'auto', label: 'Before restoring "first draft"', by: 'alice' })
    // Once restore resolves, the restoring copy shows the version, whether or not the socket brought it yet.
    expect(text.toString()).toBe('Who deleted my paragraph?')
    await waitFor('bob to see the restored text', () => bob.doc.getText('body').toString() === 'Who deleted my paragraph?')
    expect((await bob.versions()).map((v) => v.id)).toEqual([before!.id, draft.id])

    // A restore is undone by restoring the version made just before it.
    await bob.restore(before!.id)
    expect(bob.doc.getText('body').toString()).toBe('Here is my paragraph?')
    await waitFor('alice to see the undone restore', () => text.toString() === 'Here is my paragraph?')
    // The restore is an ordinary edit: the node holds what both clients show.
    expect(await createDocsClient({ url: node.url, token: await sign('carol', 'read') }).readJson('team/notes')).toEqual({ body: 'Here is my paragraph?' })
  })

  test('the calls go to the node the document is connected to, after failing over from the first endpoint', async () => {
    const node = await startNode()
    // Nothing listens on port 9: the document connects to the second endpoint, given as a ws:// URL.
    const notes = client({ endpoints: ['http://127.0.0.1:9', node.url.replace(/^http/, 'ws')], start: 'first', token: await sign('ada', 'write') }).open('team/failover')
    await notes.whenSynced
    notes.doc.getText('body').insert(0, 'kept')
    const saved = await notes.saveVersion('kept')
    expect(await notes.versions()).toEqual([saved])
    expect(await notes.version(saved.id)).toEqual({ body: 'kept' })
  })

  test("a read-only token lists and previews versions; the node's refusal to save or restore is a SyncmeshApiError", async () => {
    const node = await startNode()
    const writer = client({ endpoints: [node.url], token: await sign('ada', 'write') }).open('team/read-only')
    await writer.whenSynced
    writer.doc.getText('body').insert(0, 'text')
    const saved = await writer.saveVersion('by ada')

    const reader = client({ endpoints: [node.url], token: await sign('bob', 'read') }).open('team/read-only')
    await reader.whenSynced
    expect(await reader.versions()).toEqual([saved])
    expect(await reader.version(saved.id)).toEqual({ body: 'text' })
    await expect(reader.saveVersion('by bob')).rejects.toMatchObject({ name: 'SyncmeshApiError', status: 403, code: 'forbidden' })
    await expect(reader.restore(saved.id)).rejects.toBeInstanceOf(SyncmeshApiError)
    await expect(reader.version('v_0123456789abcdef0123')).rejects.toMatchObject({ status: 404, code: 'version_not_found' })
  })
})

describe('the REST docs client and version history', () => {
  test('versions, saveVersion, readVersion, readVersionUpdate, diffVersions and restoreVersion', async () => {
    const node = await startNode()
    const docs = createDocsClient({ url: node.url, token: await sign('ada', 'write') })
    const writer = client({ endpoints: [node.url], token: await sign('ada', 'write') }).open('team/rest doc')
    await writer.whenSynced
    writer.doc.getText('body').insert(0, 'one')
    writer.doc.getMap('meta').set('title', 'One')
    await writer.whenDurable()

    const one = await docs.saveVersion('team/rest doc', 'one')
    writer.doc.getText('body').insert(3, ' two')
    writer.doc.getMap('meta').set('title', 'Two')
    await writer.whenDurable()
    const two = await docs.saveVersion('team/rest doc', 'two')

    expect((await docs.versions('team/rest doc')).map((v) => v.label)).toEqual(['two', 'one'])
    expect(await docs.readVersion('team/rest doc', one.id)).toEqual({ body: 'one', meta: { title: 'One' } })
    const rebuilt = new Y.Doc()
    Y.applyUpdate(rebuilt, await docs.readVersionUpdate('team/rest doc', one.id))
    expect(rebuilt.getText('body').toString()).toBe('one')
    expect(await docs.diffVersions('team/rest doc', one.id, two.id)).toEqual({
      from: one.id,
      to: two.id,
      roots: { body: { kind: 'text', inserted: [' two'], deleted: [] }, meta: { kind: 'map', changed: [{ key: 'title', before: 'One', after: 'Two' }] } },
    })
    expect((await docs.diffVersions('team/rest doc', two.id)).roots).toEqual({})

    const { restored, before } = await docs.restoreVersion('team/rest doc', one.id)
    expect(restored.id).toBe(one.id)
    // The state before was version two already: no second copy of it.
    expect(before).toBeNull()
    await waitFor('the live client to see the restore', () => writer.doc.getText('body').toString() === 'one')
    expect(writer.doc.getMap('meta').get('title')).toBe('One')
  })
})
