import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { SyncmeshNode } from '../../src/node.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { removeTempDirs } from '../helpers/temp-dir.js'

const adminToken = 'admin-token-of-the-idempotency-key-tests'

describe('Idempotency-Key on the admin write routes of a real node', () => {
  let node: SyncmeshNode

  beforeAll(async () => {
    node = await startTestNode({ adminToken })
  })
  afterAll(async () => {
    await closeTestNodes()
    removeTempDirs()
  })

  async function call(method: string, path: string, key?: string, body?: unknown) {
    const headers: Record<string, string> = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }
    if (key !== undefined) headers['idempotency-key'] = key
    const res = await fetch(node.url + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    return { status: res.status, json: (await res.json()) as any }
  }
  const memberIds = async () => ((await call('GET', '/v1/cluster')).json.members as { id: string }[]).map((m) => m.id)

  test('an empty key on DELETE /v1/cluster/members/:id is refused before anything is proposed, and a plain DELETE then removes the member', async () => {
    expect((await call('POST', '/v1/cluster/members', 'add-n3', { id: 'n3', url: 'http://127.0.0.1:9' })).status).toBe(201)
    const { commitIndex } = (await call('GET', '/v1/cluster')).json

    const refused = await call('DELETE', '/v1/cluster/members/n3', '')
    expect(refused.status).toBe(400)
    expect(refused.json.error.code).toBe('invalid_idempotency_key')
    expect((await call('GET', '/v1/cluster')).json.commitIndex).toBe(commitIndex)
    expect(await memberIds()).toEqual(['n3', 'test'])

    expect(await call('DELETE', '/v1/cluster/members/n3')).toEqual({ status: 200, json: { id: 'n3', removed: true } })
    expect(await memberIds()).toEqual(['test'])
  })

  test('a key reused for another kind of write is another request: the member is removed from Raft and from the members list alike', async () => {
    expect((await call('POST', '/v1/cluster/members', 'add-n4', { id: 'n4', url: 'http://127.0.0.1:10' })).status).toBe(201)
    expect((await call('PUT', '/v1/namespaces/notes', 'reused', { schema: { roots: { body: 'text' } } })).status).toBe(200)
    expect((await call('DELETE', '/v1/namespaces/notes', 'reused')).status).toBe(200)

    expect(await call('DELETE', '/v1/cluster/members/n4', 'reused')).toEqual({ status: 200, json: { id: 'n4', removed: true } })
    expect(await memberIds()).toEqual(['test'])
    // Retried, it is answered as the first time.
    expect(await call('DELETE', '/v1/cluster/members/n4', 'reused')).toEqual({ status: 200, json: { id: 'n4', removed: true } })
  })

  test('malformed keys are refused on every admin write route; a read ignores the header', async () => {
    const writes: [string, string, unknown?][] = [
      ['POST', '/v1/cluster/members', { id: 'n5', url: 'http://127.0.0.1:11' }],
      ['DELETE', '/v1/cluster/members/n5'],
      ['POST', '/v1/cluster/leader', {}],
      ['PUT', '/v1/namespaces/drafts', { schema: { roots: {} } }],
      ['DELETE', '/v1/namespaces/drafts'],
      ['DELETE', '/v1/docs/some-doc'],
    ]
    const { commitIndex } = (await call('GET', '/v1/cluster')).json
    for (const key of ['', ' ', 'has space', 'tab\there', 'é', 'x'.repeat(129)]) {
      for (const [method, path, body] of writes) {
        const refused = await call(method, path, key, body)
        expect([method, path, key, refused.status, refused.json.error.code]).toEqual([method, path, key, 400, 'invalid_idempotency_key'])
      }
    }
    expect((await call('GET', '/v1/cluster')).json.commitIndex).toBe(commitIndex)
    expect((await call('GET', '/v1/cluster', '')).status).toBe(200)
    expect((await call('PUT', '/v1/namespaces/drafts', 'x'.repeat(128), { schema: { roots: {} } })).status).toBe(200)
  })
})
