import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT, exportSPKI, generateKeyPair } from 'jose'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { SyncmeshNode } from '../../src/node.js'
import { connectSynced, destroyProviders } from '../helpers/clients.js'
import { closeTestNodes, startTestNode } from '../helpers/in-process-node.js'
import { removeTempDirs, tempDir } from '../helpers/temp-dir.js'
import { sleep, waitFor } from '../helpers/wait.js'

const tokenKey = 'the HS256 secret of these tests, 32+ chars'
const adminToken = 'admin-token-of-these-tests'
const doc = 'shared/doc'
let node: SyncmeshNode
let edPrivateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']

async function sign(claims: object, options: { key?: string; expiresIn?: string | number } = {}): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(new TextEncoder().encode(options.key ?? tokenKey))
}

const tokens: Record<string, () => Promise<string | undefined>> = {
  'no token': async () => undefined,
  expired: () => sign({ sub: 'late', docs: ['**'], access: 'write' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 }),
  'wrong key': () => sign({ sub: 'forger', docs: ['**'], access: 'write' }, { key: 'some other secret of 32+ characters' }),
  read: () => sign({ sub: 'reader', docs: ['shared/**'], access: 'read' }),
  write: () => sign({ sub: 'writer', docs: ['shared/**'], access: 'write' }),
}

function textUpdate(text: string, clientID: number): Uint8Array {
  const d = new Y.Doc()
  d.clientID = clientID
  d.getText('body').insert(0, text)
  return Y.encodeStateAsUpdate(d)
}

const withToken = (path: string, token: string | undefined) => (token === undefined ? path : `${path}?token=${encodeURIComponent(token)}`)
const bearer = (token: string | undefined): Record<string, string> => (token === undefined ? {} : { authorization: `Bearer ${token}` })

/** The HTTP status that refused a WebSocket upgrade, or 101 once it opened. */
function upgradeStatus(path: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(node.url.replace(/^http/, 'ws') + path)
    ws.on('error', () => {})
    ws.once('open', () => {
      ws.close()
      resolve(101)
    })
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
  })
}

async function readText(name: string): Promise<string> {
  const res = await fetch(`${node.url}/v1/docs/${encodeURIComponent(name)}`, { headers: bearer(adminToken) })
  return ((await res.json()) as { body?: string }).body ?? ''
}

beforeAll(async () => {
  const keys = await generateKeyPair('EdDSA', { extractable: true })
  edPrivateKey = keys.privateKey
  const publicKeyPath = join(tempDir(), 'ed25519.pem')
  writeFileSync(publicKeyPath, await exportSPKI(keys.publicKey))
  node = await startTestNode({ tokenKey, tokenPublicKeyPath: publicKeyPath, adminToken })
  const seeded = await fetch(`${node.url}/v1/docs/${encodeURIComponent(doc)}/update`, {
    method: 'POST',
    headers: { ...bearer(adminToken), 'content-type': 'application/octet-stream' },
    body: textUpdate('seeded', 1),
  })
  expect(seeded.status).toBe(204)
})

afterAll(async () => {
  destroyProviders()
  await closeTestNodes()
  removeTempDirs()
})

describe('every cell of {no token, expired, wrong key, read, write} × {sync, write, REST read, REST write, admin}', () => {
  const expected: Record<string, { sync: number; write: 'stored' | 4403 | number; restRead: number; restWrite: number; admin: number }> = {
    'no token': { sync: 401, write: 401, restRead: 401, restWrite: 401, admin: 401 },
    expired: { sync: 401, write: 401, restRead: 401, restWrite: 401, admin: 403 },
    'wrong key': { sync: 401, write: 401, restRead: 401, restWrite: 401, admin: 403 },
    read: { sync: 101, write: 4403, restRead: 200, restWrite: 403, admin: 403 },
    write: { sync: 101, write: 'stored', restRead: 200, restWrite: 204, admin: 403 },
  }

  for (const [who, cells] of Object.entries(expected)) {
    test(`${who}: sync ${cells.sync}, write ${cells.write}, REST read ${cells.restRead}, REST write ${cells.restWrite}, admin ${cells.admin}`, async () => {
      const token = await tokens[who]!()
      const path = `/${encodeURIComponent(doc)}`

      // sync: the upgrade is decided before the socket opens; an allowed stock provider receives the document.
      expect(await upgradeStatus(withToken(path, token))).toBe(cells.sync)
      if (cells.sync === 101) {
        const provider = await connectSynced(node.url, doc, new Y.Doc(), { token: token! })
        expect(provider.doc.getText('body').toString()).toContain('seeded')
      }

      // write over the WebSocket
      if (typeof cells.write === 'number' && cells.write !== 4403) {
        expect(await upgradeStatus(withToken(path, token))).toBe(cells.write)
      } else {
        const before = await readText(doc)
        const provider = await connectSynced(node.url, doc, new Y.Doc(), { token: token! })
        // The provider's socket is a `ws` WebSocket here (see clients.ts).
        const socket = provider.ws as unknown as WebSocket
        const closed = new Promise<{ code: number; reason: string }>((resolve) =>
          socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
        )
        provider.doc.getText('body').insert(0, `${who} was here `)
        if (cells.write === 'stored') {
          await expectEventually(async () => (await readText(doc)).includes(`${who} was here`))
        } else {
          expect(await closed).toMatchObject({ code: 4403, reason: expect.stringMatching(/read-only/) })
          expect(await readText(doc)).toBe(before)
        }
        provider.destroy()
      }

      // REST read, by ?token= and by Authorization: Bearer
      const restPath = `${node.url}/v1/docs/${encodeURIComponent(doc)}`
      expect((await fetch(withToken(restPath, token))).status).toBe(cells.restRead)
      expect((await fetch(restPath, { headers: bearer(token) })).status).toBe(cells.restRead)

      // REST write
      const write = await fetch(`${restPath}/update`, {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
        body: textUpdate(`${who} by REST `, 5000 + Object.keys(expected).indexOf(who)),
      })
      expect(write.status).toBe(cells.restWrite)
      if (write.status >= 400) expect(await write.json()).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } })

      // admin: a client token never opens an admin route
      expect((await fetch(`${node.url}/v1/cluster`, { headers: bearer(token) })).status).toBe(cells.admin)
    })
  }
})

async function expectEventually(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s')
    await sleep(20)
  }
}

test('a token covers only the documents its globs match', async () => {
  const token = await sign({ sub: 'narrow', docs: ['shared/*'], access: 'write' })
  expect(await upgradeStatus(withToken(`/${encodeURIComponent('shared/doc')}`, token))).toBe(101)
  expect(await upgradeStatus(withToken(`/${encodeURIComponent('shared/deeper/doc')}`, token))).toBe(403)
  expect(await upgradeStatus(withToken(`/${encodeURIComponent('other/doc')}`, token))).toBe(403)
})

test('EdDSA tokens are checked against the configured public key', async () => {
  const token = await new SignJWT({ sub: 'ed', docs: ['shared/**'], access: 'read' })
    .setProtectedHeader({ alg: 'EdDSA' })
    .setExpirationTime('1h')
    .sign(edPrivateKey)
  expect((await fetch(`${node.url}/v1/docs/${encodeURIComponent(doc)}`, { headers: bearer(token) })).status).toBe(200)
  const noExp = await new SignJWT({ sub: 'ed', docs: ['shared/**'], access: 'read' }).setProtectedHeader({ alg: 'EdDSA' }).sign(edPrivateKey)
  expect((await fetch(`${node.url}/v1/docs/${encodeURIComponent(doc)}`, { headers: bearer(noExp) })).status).toBe(401)
})

test('the admin token opens every document route; a public-read namespace is readable without a token', async () => {
  const declared = await fetch(`${node.url}/v1/namespaces/pub`, {
    method: 'PUT',
    headers: { ...bearer(adminToken), 'content-type': 'application/json' },
    body: JSON.stringify({ schema: { roots: { body: 'text' } }, publicRead: true }),
  })
  expect(declared.status).toBe(200)
  const url = `${node.url}/v1/docs/${encodeURIComponent('pub/notice')}`
  const written = await fetch(`${url}/update`, {
    method: 'POST',
    headers: { ...bearer(adminToken), 'content-type': 'application/octet-stream' },
    body: textUpdate('for everyone', 7),
  })
  expect(written.status).toBe(204)
  expect(await (await fetch(url)).json()).toEqual({ body: 'for everyone' })
  const anonymousWrite = await fetch(`${url}/update`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: textUpdate('x', 8) })
  expect(anonymousWrite.status).toBe(401)
  expect(await upgradeStatus(`/${encodeURIComponent('pub/notice')}`)).toBe(101)
  const listed = (await (await fetch(`${node.url}/v1/docs`)).json()) as { docs: { name: string }[] }
  expect(listed.docs.map((d) => d.name)).toEqual(['pub/notice'])
})

test("a read-only session receives others' updates, and its awareness is relayed", async () => {
  const reader = await connectSynced(node.url, doc, new Y.Doc(), { token: (await tokens.read!())! })
  const writer = await connectSynced(node.url, doc, new Y.Doc(), { token: (await tokens.write!())! })
  writer.doc.getText('body').insert(0, 'live ')
  await waitFor('the reader to receive the edit', () => reader.doc.getText('body').toString().startsWith('live '))
  reader.awareness.setLocalStateField('user', { name: 'reader' })
  await waitFor('the writer to see the reader', () =>
    [...writer.awareness.getStates().values()].some((state) => (state as { user?: { name: string } }).user?.name === 'reader'),
  )
})

test('listing pages never tell a name outside the grant: not in a page, not in a cursor', async () => {
  const write = (name: string, clientID: number) =>
    fetch(`${node.url}/v1/docs/${encodeURIComponent(name)}/update`, {
      method: 'POST',
      headers: { ...bearer(adminToken), 'content-type': 'application/octet-stream' },
      body: textUpdate(name, clientID),
    })
  for (const [i, name] of ['list/a', 'list/secret-1', 'list/secret-2', 'list/z'].entries()) expect((await write(name, 20 + i)).status).toBe(204)
  const token = await sign({ sub: 'lister', docs: ['list/a', 'list/z'], access: 'read' })
  const seen: string[] = []
  const cursors: string[] = []
  let cursor: string | null = null
  do {
    const query: string = `prefix=list/&limit=1${cursor === null ? '' : `&cursor=${cursor}`}`
    const page = (await (await fetch(`${node.url}/v1/docs?${query}`, { headers: bearer(token) })).json()) as {
      docs: { name: string }[]
      nextCursor: string | null
    }
    seen.push(...page.docs.map((d) => d.name))
    cursor = page.nextCursor
    if (cursor !== null) cursors.push(cursor)
  } while (cursor !== null)
  expect(seen).toEqual(['list/a', 'list/z'])
  for (const c of cursors) expect(Buffer.from(c, 'base64url').toString('latin1')).not.toMatch(/secret|list/)
  const forged = await fetch(`${node.url}/v1/docs?cursor=${Buffer.from('list/secret-1').toString('base64url')}`, { headers: bearer(token) })
  expect(forged.status).toBe(400)
  expect(await forged.json()).toEqual({ error: { code: 'invalid_query', message: 'cursor: not a cursor of this cluster' } })
})
