import { Agent, request } from 'node:http'
import type { Rng } from '../sim/rng.js'
import { hex, mutate, randomBytes } from './bytes.js'
import type { FuzzInput, InputGenerator, Target } from './fuzz-input.js'
import { percentEncoded, storedDocName } from './targets.js'
import type { YjsCorpus } from './yjs-corpus.js'

/** Namespaces and member ids the fuzzer may declare, change and remove; never its own peer id or the health check's. */
const namespaces = ['fz', 'notes', 'plain', 'x', 'constructor', '__proto__', '%2F', 'n'.repeat(200)]
const memberIds = ['m1', 'm2', 'fuzz-target', '', 'ü', 'x'.repeat(200)]

function encodedName(rng: Rng): string {
  const name = storedDocName(rng)
  switch (rng.int(6)) {
    case 0:
      return rng.pick(['%', '%zz', '%ff%fe', '%2e%2e', '%ED%A0%80', '..', ''])
    case 1:
      return name.replace(/[^\x21-\x7e]/g, '_')
    default:
      return percentEncoded(name)
  }
}

function queryString(rng: Rng, corpus: YjsCorpus): string {
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString(rng.chance(0.5) ? 'base64url' : 'base64')
  const params: [string, string][] = []
  for (let i = rng.int(4); i > 0; i--) {
    params.push(
      rng.pick<() => [string, string]>([
        () => ['limit', rng.pick(['0', '1', '2', '1000', '1001', '-1', 'abc', '1e3', '', '9'.repeat(30)])],
        () => ['cursor', rng.pick([base64(randomBytes(rng, 20)), '***', '', 'Zno'])],
        () => ['prefix', rng.pick(['fz/', '', 'notes', '%', storedDocName(rng)])],
        () => ['sv', rng.pick([base64(corpus.stateVector()), base64(mutate(rng, corpus.stateVector())), '***', '', '===='])],
        () => ['types', rng.pick(['body:text,meta:map', 'x:text', 'x:map', 'list:array,xml:xml', '::', 'a:b', ',', 'body:text,'.repeat(60)])],
        () => ['consistent', rng.pick(['true', 'false', '1', ''])],
        () => ['token', rng.pick(['', 'x.y.z', 'eyJhbGciOiJIUzI1NiJ9.e30.x'])],
        () => ['since', changeCursor(rng)],
        () => ['wait', rng.pick(['1s', '0', '500ms', '60s', '61s', '1m', '-1', 'abc', '9'.repeat(20), ''])],
      ])(),
    )
  }
  if (params.length === 0) return ''
  return '?' + params.map(([k, v]) => `${k}=${rng.chance(0.8) ? percentEncoded(v) : v.replace(/[^\x21-\x7e]/g, '')}`).join('&')
}

/** Something like a change-feed cursor: well formed for some log, or nearly. */
function changeCursor(rng: Rng): string {
  return rng.pick([
    `${hex(randomBytes(rng, 4), 8)}-${rng.int(1_000)}`,
    '00000000-0',
    'ffffffff-9007199254740991',
    'ffffffff-9007199254740992',
    '0-0',
    '-1',
    '',
    `${hex(randomBytes(rng, 4), 8)}-0${rng.int(9)}`,
  ])
}

function versionId(rng: Rng): string {
  return rng.pick(['v_0123456789abcdef0123', `v_${hex(randomBytes(rng, 10), 20)}`, 'v_', 'current', '%00', 'v_' + 'f'.repeat(300)])
}

function path(rng: Rng, corpus: YjsCorpus): string {
  const name = () => encodedName(rng)
  const route = rng.pick<() => string>([
    () => '/v1/docs',
    () => `/v1/docs/${name()}`,
    () => `/v1/docs/${name()}/update`,
    () => `/v1/docs/${name()}/update`,
    () => `/v1/docs/${name()}/versions`,
    () => `/v1/docs/${name()}/versions/${versionId(rng)}${rng.pick(['', '/update', '/restore', `/diff/${versionId(rng)}`, '/diff/current'])}`,
    () => '/v1/cluster',
    () => '/v1/cluster/members',
    () => `/v1/cluster/members/${percentEncoded(rng.pick(memberIds))}`,
    () => '/v1/cluster/leader',
    () => '/v1/namespaces',
    () => `/v1/namespaces/${percentEncoded(rng.pick(namespaces))}`,
    () => '/v1/changes',
    () => '/v1/changes',
    () => '/v1/webhooks',
    () => `/v1/webhooks/${rng.pick(['wh_aaaaaaaaaaaaaaaaaaaa', 'wh_', 'x', '%00', 'wh_' + 'a'.repeat(200)])}`,
    () => rng.pick(['/v1/endpoints', '/healthz', '/readyz', '/metrics', '/admin', '/', '/v1/', '/v1/docs/', '/v2/x', '/v1/docs//update']),
  ])
  return route() + queryString(rng, corpus)
}

function jsonBody(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => ({
      schema: { roots: { body: rng.pick(['text', 'map', 'array', 'xml', 'blob']) } },
      limits: { maxUpdateBytes: rng.pick([1, 100, 1e6, -1, 0.5]) },
      readOnly: rng.chance(0.3),
      publicRead: rng.chance(0.5),
    }),
    () => ({ schema: { roots: {} } }),
    () => ({
      id: rng.pick(memberIds),
      url: rng.pick(['http://127.0.0.1:1', 'ftp://x', 'not a url', 'http://[::1']),
      role: rng.pick(['voter', 'replica', 'king']),
    }),
    () => ({ to: rng.pick([...memberIds, null, 5]) }),
    () => ({ label: rng.pick(['a version', '', ' ', 'x'.repeat(rng.int(400)), 5, null, '\u0000']) }),
    () => ({ schema: { roots: {} }, history: { keepVersions: rng.pick([0, 1, -1, 1e9, 2.5]), keepDays: rng.pick([0.001, 0, -1, 1e9]) } }),
    () => ({
      url: rng.pick(['https://hooks.example/x', 'http://127.0.0.1:1/h', 'ftp://x', 'javascript:alert(1)', '']),
      events: rng.pick([['updated'], ['deleted', 'updated'], [], ['created'], ['updated', 'updated'], 'updated']),
      prefix: rng.pick(['', 'fz/', 5, 'p'.repeat(600)]),
    }),
    () => [],
    () => null,
    () => 'x'.repeat(rng.int(1000)),
    () => ({ __proto__: { polluted: true }, constructor: { prototype: {} } }),
  ])()
}

function body(rng: Rng, corpus: YjsCorpus): { contentType: string | undefined; bytes: Uint8Array } {
  const contentType = rng.pick([
    'application/octet-stream',
    'application/octet-stream',
    'application/json',
    'application/json',
    'application/OCTET-STREAM; charset=utf-8',
    'text/plain',
    ';',
    undefined,
  ])
  const json = () => Buffer.from(JSON.stringify(jsonBody(rng)) ?? 'undefined')
  const bytes = rng.pick<() => Uint8Array>([
    () => corpus.update(),
    () => mutate(rng, corpus.update()),
    () => json(),
    () => mutate(rng, json()),
    () => randomBytes(rng, 200),
    () => new Uint8Array(),
  ])()
  return { contentType, bytes }
}

/** The admin token, none, a wrong one, or an Authorization header that is not a bearer token. */
type Auth = 'admin' | 'none' | 'wrong' | 'Bearer' | 'Basic Og=='

const agent = new Agent({ keepAlive: true, maxSockets: 8 })

/** Drops the kept-alive REST connections, so that nothing holds the fuzzer's process open. */
export const closeRestConnections = (): void => agent.destroy()

/**
 * Random methods, routes, query strings, headers and bodies to the REST API and the pages around it; a third of
 * them writes an update, valid or mutated, as a REST client would.
 */
export const restInput: InputGenerator = (rng, corpus) => (rng.chance(0.3) ? updateWrite(rng, corpus) : randomRequest(rng, corpus))

function updateWrite(rng: Rng, corpus: YjsCorpus): FuzzInput {
  return restUpdateWrite(encodedName(rng), rng.chance(0.5) ? corpus.update() : mutate(rng, corpus.update()))
}

/** A POST of `bytes` to the document `encodedName` with the admin token, as a REST client writes an update. */
export function restUpdateWrite(encodedName: string, bytes: Uint8Array, seedCorpusReason?: string): FuzzInput {
  const target = `/v1/docs/${encodedName}/update`
  const headers = { 'content-type': 'application/octet-stream' }
  return {
    edge: 'rest',
    describe:
      (seedCorpusReason ? `seed corpus (${seedCorpusReason}): ` : '') +
      `rest POST ${target} auth=admin headers=${JSON.stringify(headers)} body=${hex(bytes, 512)}`,
    send: (node) => send(node, 'POST', target, 'admin', headers, bytes),
  }
}

function randomRequest(rng: Rng, corpus: YjsCorpus): FuzzInput {
  const method = rng.pick(['GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'BREW'])
  const target = path(rng, corpus)
  const auth = rng.pick<Auth>(['admin', 'admin', 'none', 'wrong', 'Bearer', 'Basic Og=='])
  const extra: Record<string, string> = {}
  if (rng.chance(0.2)) extra['idempotency-key'] = rng.pick(['k1', 'k2', 'x'.repeat(200)])
  if (rng.chance(0.05)) extra['x-syncmesh-forwarded'] = '1'
  if (target.startsWith('/v1/changes')) {
    if (rng.chance(0.5)) extra['accept'] = rng.pick(['text/event-stream', 'application/json', 'text/event-stream, */*'])
    if (rng.chance(0.3)) extra['last-event-id'] = changeCursor(rng)
  }
  const { contentType, bytes } = method === 'GET' || method === 'HEAD' ? { contentType: undefined, bytes: new Uint8Array() } : body(rng, corpus)
  if (contentType !== undefined) extra['content-type'] = contentType
  return {
    edge: 'rest',
    describe: `rest ${method} ${target} auth=${auth} headers=${JSON.stringify(extra)} body=${hex(bytes, 512)}`,
    send: (node) => send(node, method, target, auth, extra, bytes),
  }
}

function send(
  node: Target,
  method: string,
  target: string,
  auth: Auth,
  extra: Record<string, string>,
  bytes: Uint8Array,
): Promise<void> {
  const headers: Record<string, string> = { ...extra }
  if (auth === 'admin') headers['authorization'] = `Bearer ${node.adminToken}`
  else if (auth === 'wrong') headers['authorization'] = 'Bearer not-the-admin-token'
  else if (auth !== 'none') headers['authorization'] = auth
  if (bytes.byteLength > 0) headers['content-length'] = String(bytes.byteLength)
  return new Promise((resolve) => {
    let req
    try {
      req = request({ host: '127.0.0.1', port: node.port, method, path: target, headers, agent })
    } catch {
      // Node refuses to send some of these paths itself; raw-http sends such bytes.
      resolve()
      return
    }
    const done = () => resolve()
    req.setTimeout(1_500, () => req.destroy())
    req.on('response', (res) => {
      res.resume()
      res.on('end', done)
      res.on('error', done)
      res.on('close', done)
    })
    req.on('error', done)
    req.on('close', done)
    req.end(bytes.byteLength > 0 ? bytes : undefined)
  })
}
