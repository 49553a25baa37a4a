import * as Y from 'yjs'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { encodeSyncStep1, encodeSyncUpdate } from '../../src/protocol/y-websocket.js'
import type { SyncmeshNode } from '../../src/node.js'
import { connectSynced, destroyProviders } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { rawConnect } from '../helpers/raw-client.js'
import { removeTempDirs } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const maxMessageBytes = 64 * 1024
const adminToken = 'admin-token-of-the-bad-input-tests'
let node: SyncmeshNode
let bystander: Awaited<ReturnType<typeof connectSynced>>
let storedBefore: Uint8Array

beforeAll(async () => {
  node = await startTestNode({ maxMessageBytes, adminToken })
  bystander = await connectSynced(node.url, 'shared')
  bystander.doc.getText('body').insert(0, 'must survive')
  // Durable and applied to the node's copy: the copy is what readUpdate and the tests' comparisons read.
  await waitFor('the bystander write to be stored', () => node.docs.withDoc('shared', (d) => d.getText('body').toString()) === 'must survive')
})

afterAll(async () => {
  destroyProviders()
  await closeTestNodes()
  removeTempDirs()
})

beforeEach(() => {
  storedBefore = node.docs.readUpdate('shared')!
})

/** After every bad input: the node still serves others and the stored document is unchanged. */
async function expectNodeUnharmed(): Promise<void> {
  expect(node.docs.readUpdate('shared')).toEqual(storedBefore)
  expect((await fetch(`${node.url}/healthz`)).status).toBe(200)
  const other = await connectSynced(node.url, 'shared')
  expect(other.doc.getText('body').toString()).toBe('must survive')
  bystander.doc.getMap('m').set('k', Math.random())
  await waitFor('an edit to still reach others', () => other.doc.getMap('m').get('k') === bystander.doc.getMap('m').get('k'))
  storedBefore = node.docs.readUpdate('shared')!
  other.destroy()
}

async function sendAndExpectClose(path: string, frame: Uint8Array | string, code: number, reason: RegExp) {
  const client = await rawConnect(node.url, path)
  client.ws.send(frame)
  const closed = await client.closed
  expect(closed.code).toBe(code)
  expect(closed.reason).toMatch(reason)
}

describe('bad WebSocket input closes only the offender, with a code and a reason', () => {
  test('malformed frame → 4400', async () => {
    await sendAndExpectClose('/shared', Uint8Array.of(0, 7, 1, 2), 4400, /unknown sync message type 7/)
    await expectNodeUnharmed()
  })

  test('truncated varint → 4400', async () => {
    await sendAndExpectClose('/shared', Uint8Array.of(0, 2, 0x80), 4400, /malformed frame/)
    await expectNodeUnharmed()
  })

  test('text frame → 4400', async () => {
    await sendAndExpectClose('/shared', 'hello', 4400, /text frames/)
    await expectNodeUnharmed()
  })

  test('an update Yjs cannot decode → 4422', async () => {
    await sendAndExpectClose('/shared', encodeSyncUpdate(Uint8Array.of(5, 200, 1, 255, 255, 3)), 4422, /not a valid Yjs update/)
    await expectNodeUnharmed()
  })

  test('a state vector Yjs cannot decode → 4400', async () => {
    await sendAndExpectClose('/shared', encodeSyncStep1(Uint8Array.of(3, 0x80)), 4400, /state vector/)
    await expectNodeUnharmed()
  })

  test('a frame over --max-message-bytes → 4413 naming the size and the limit, counted', async () => {
    const doc = new Y.Doc()
    doc.getText('body').insert(0, 'x'.repeat(maxMessageBytes + 1))
    const client = await rawConnect(node.url, '/shared')
    const frame = encodeSyncUpdate(Y.encodeStateAsUpdate(doc))
    client.ws.send(frame)
    expect(await client.closed).toEqual({
      code: 4413,
      reason: `frame of ${frame.byteLength} bytes passes the limit of ${maxMessageBytes} bytes`,
    })
    const counted = await node.metrics.clientCloses.get()
    expect(counted.values.find((v) => v.labels.reason === 'frame_too_large')?.value).toBe(1)
    await expectNodeUnharmed()
  })

  test('an empty document name → 4404', async () => {
    const client = await rawConnect(node.url, '/')
    expect(await client.closed).toEqual({ code: 4404, reason: 'document name is empty' })
    await expectNodeUnharmed()
  })

  test('a document name over 512 bytes → 4404', async () => {
    const client = await rawConnect(node.url, '/' + 'n'.repeat(513))
    expect(await client.closed).toEqual({ code: 4404, reason: 'document name is 513 bytes; the limit is 512' })
    await expectNodeUnharmed()
  })
})

describe('bad REST input gets a JSON error', () => {
  async function expectError(res: Response, status: number, code: string) {
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toMatch(/application\/json/)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe(code)
    expect(body.error.message.length).toBeGreaterThan(0)
  }
  const post = (name: string, body: Uint8Array | string, type = 'application/octet-stream') =>
    fetch(`${node.url}/v1/docs/${name}/update`, { method: 'POST', body, headers: { 'content-type': type } })

  test('unknown route → 404', async () => {
    await expectError(await fetch(`${node.url}/v2/nothing`), 404, 'not_found')
    await expectNodeUnharmed()
  })

  test('non-binary body → 400', async () => {
    await expectError(await post('shared', JSON.stringify({ text: 'x' }), 'application/json'), 400, 'not_binary')
    await expectNodeUnharmed()
  })

  test('body over --max-message-bytes → 413', async () => {
    await expectError(await post('shared', new Uint8Array(maxMessageBytes + 1)), 413, 'body_too_large')
    await expectNodeUnharmed()
  })

  test('a chunked body (no Content-Length) is counted as it comes: over --max-message-bytes → 413, under it applied', async () => {
    const chunked = (bytes: Uint8Array) =>
      fetch(`${node.url}/v1/docs/chunked/update`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new ReadableStream({
          start(controller) {
            for (let at = 0; at < bytes.length; at += 1024) controller.enqueue(bytes.subarray(at, at + 1024))
            controller.close()
          },
        }),
        duplex: 'half',
      } as RequestInit)
    await expectError(await chunked(new Uint8Array(maxMessageBytes + 1)), 413, 'body_too_large')
    const doc = new Y.Doc()
    doc.getText('body').insert(0, 'sent in chunks')
    expect((await chunked(Y.encodeStateAsUpdate(doc))).status).toBe(204)
    await expectNodeUnharmed()
  })

  test('an update Yjs cannot decode → 400', async () => {
    await expectError(await post('shared', Uint8Array.of(9, 9, 9, 9)), 400, 'invalid_update')
    await expectNodeUnharmed()
  })

  test('a document name over 512 bytes → 400', async () => {
    await expectError(await post('n'.repeat(513), Uint8Array.of(0, 0)), 400, 'invalid_doc_name')
    await expectError(await fetch(`${node.url}/v1/docs/${'n'.repeat(513)}`), 400, 'invalid_doc_name')
    await expectNodeUnharmed()
  })

  test('a state vector that is not base64 or not a state vector → 400', async () => {
    await expectError(await fetch(`${node.url}/v1/docs/shared/update?sv=***`), 400, 'invalid_query')
    await expectError(await fetch(`${node.url}/v1/docs/shared/update?sv=gA`), 400, 'invalid_state_vector')
    await expectNodeUnharmed()
  })

  test('bad list and types queries → 400', async () => {
    await expectError(await fetch(`${node.url}/v1/docs?limit=0`), 400, 'invalid_query')
    await expectError(await fetch(`${node.url}/v1/docs?limit=abc`), 400, 'invalid_query')
    await expectError(await fetch(`${node.url}/v1/docs/shared?types=body:tree`), 400, 'invalid_query')
    await expectNodeUnharmed()
  })

  test('bad admin bodies, names and tokens → 400, 401, 403; the metadata stays as it was', async () => {
    const admin = (method: string, path: string, body: string, token = adminToken) =>
      fetch(`${node.url}${path}`, { method, body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })
    const metadata = async () => (await (await fetch(`${node.url}/v1/namespaces`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as unknown
    const before = await metadata()
    await expectError(await admin('POST', '/v1/cluster/members', '{"id":'), 400, 'invalid_json')
    await expectError(await admin('POST', '/v1/cluster/members', ''), 400, 'invalid_json')
    await expectError(await admin('POST', '/v1/cluster/members', '{"id":5,"url":"http://x"}'), 400, 'invalid_body')
    await expectError(await admin('POST', '/v1/cluster/members', '{"id":"n9","url":"ftp://x"}'), 400, 'invalid_body')
    await expectError(await admin('POST', '/v1/cluster/leader', 'nope'), 400, 'invalid_json')
    await expectError(await admin('PUT', '/v1/namespaces/notes', '[]'), 400, 'invalid_body')
    await expectError(await admin('PUT', '/v1/namespaces/notes', '{"schema":{"roots":{"x":"tree"}}}'), 400, 'invalid_body')
    await expectError(await admin('PUT', `/v1/namespaces/${'n'.repeat(129)}`, '{"schema":{"roots":{}}}'), 400, 'invalid_namespace')
    await expectError(await fetch(`${node.url}/v1/cluster`), 401, 'unauthorized')
    await expectError(await admin('PUT', '/v1/namespaces/notes', '{"schema":{"roots":{}}}', 'not-the-admin-token'), 403, 'forbidden')
    expect(await metadata()).toEqual(before)
    await expectNodeUnharmed()
  })

  test('a document that was never written → 404', async () => {
    await expectError(await fetch(`${node.url}/v1/docs/missing/update`), 404, 'doc_not_found')
    await expectError(await fetch(`${node.url}/v1/docs/missing`), 404, 'doc_not_found')
  })
})
