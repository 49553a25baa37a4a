import { describe, expect, test } from 'vitest'
import { defaultNodeConfig } from '../../src/node.js'
import { parseStartConfig, startUsage } from '../../server/config.js'
import { UsageError } from '../../server/flags.js'

const parse = (args: string[], env: NodeJS.ProcessEnv = {}) => parseStartConfig(args, env).node

describe('--peer-route', () => {
  test('is repeatable, one ID=URL per use', () => {
    const node = parse(['--peer-route', 'n2=http://127.0.0.1:5002', '--peer-route', 'n3=https://10.0.0.3:4000'])
    expect(node.peerRoutes).toEqual({ n2: 'http://127.0.0.1:5002', n3: 'https://10.0.0.3:4000' })
  })

  test('SYNCMESH_PEER_ROUTES holds a comma-separated list', () => {
    const node = parse([], { SYNCMESH_PEER_ROUTES: 'n2=http://127.0.0.1:5002, n3=http://10.0.0.3:4000,' })
    expect(node.peerRoutes).toEqual({ n2: 'http://127.0.0.1:5002', n3: 'http://10.0.0.3:4000' })
  })

  test('the flag replaces the whole environment list', () => {
    const node = parse(['--peer-route', 'n3=http://flag:1'], { SYNCMESH_PEER_ROUTES: 'n2=http://env:1,n3=http://env:2' })
    expect(node.peerRoutes).toEqual({ n3: 'http://flag:1' })
  })

  test('absent, the node dials the member URLs', () => {
    expect(parse([]).peerRoutes).toBeUndefined()
  })

  test.each([
    ['no equals sign', 'n2'],
    ['an empty id', '=http://127.0.0.1:5002'],
    ['an empty URL', 'n2='],
    ['a URL that is not http(s)', 'n2=ws://127.0.0.1:5002'],
  ])('a value with %s is a usage error naming the flag', (_, value) => {
    expect(() => parse(['--peer-route', 'n3=http://127.0.0.1:5003', '--peer-route', value])).toThrow(UsageError)
    expect(() => parse(['--peer-route', value])).toThrow(/^--peer-route: expected ID=URL/)
    expect(() => parse([], { SYNCMESH_PEER_ROUTES: value })).toThrow(/^--peer-route: /)
  })

  test('routing one peer twice is a usage error', () => {
    expect(() => parse(['--peer-route', 'n2=http://a:1', '--peer-route', 'n2=http://b:1'])).toThrow(
      '--peer-route: peer "n2" is routed twice',
    )
  })
})

describe('--anti-entropy-ms', () => {
  test('defaults to the node default', () => {
    expect(parse([]).antiEntropyMs).toBe(defaultNodeConfig.antiEntropyMs)
  })

  test('is set by the flag or SYNCMESH_ANTI_ENTROPY_MS, the flag first', () => {
    expect(parse(['--anti-entropy-ms', '250']).antiEntropyMs).toBe(250)
    expect(parse([], { SYNCMESH_ANTI_ENTROPY_MS: '300' }).antiEntropyMs).toBe(300)
    expect(parse(['--anti-entropy-ms', '250'], { SYNCMESH_ANTI_ENTROPY_MS: '300' }).antiEntropyMs).toBe(250)
  })

  test.each(['0', '-5', '1.5', 'often'])('%s is a usage error naming the flag', (value) => {
    expect(() => parse([`--anti-entropy-ms=${value}`])).toThrow(/^--anti-entropy-ms: /)
  })
})

test('a single-valued flag is still a plain string: the last use wins', () => {
  expect(parse(['--port', '0', '--port', '4100']).port).toBe(4100)
})

test('the usage lists both new flags with their environment variables', () => {
  const usage = startUsage()
  for (const text of ['--peer-route', 'SYNCMESH_PEER_ROUTES', '--anti-entropy-ms', 'SYNCMESH_ANTI_ENTROPY_MS']) {
    expect(usage).toContain(text)
  }
})

describe('client token keys', () => {
  test('--token-key or SYNCMESH_TOKEN_KEY sets the HS256 secret; absent, the node is open', () => {
    const secret = 'a secret of at least thirty-two characters'
    expect(parse(['--token-key', secret]).tokenKey).toBe(secret)
    expect(parse([], { SYNCMESH_TOKEN_KEY: secret }).tokenKey).toBe(secret)
    expect(parse([]).tokenKey).toBeUndefined()
    expect(parse([]).tokenPublicKeyPath).toBeUndefined()
  })

  test('a short secret, or a public key file that does not exist, is a usage error', () => {
    expect(() => parse(['--token-key', 'short'])).toThrow(new UsageError('--token-key: at least 32 characters (HS256 wants a 256-bit secret)'))
    expect(() => parse(['--token-public-key', '/nonexistent/ed25519.pem'])).toThrow(new UsageError('--token-public-key: no such file'))
  })
})

describe('--admin-token and --cluster-secret', () => {
  const secret = 'sixteen or more characters'

  test.each([
    ['--admin-token', 'SYNCMESH_ADMIN_TOKEN', 'adminToken'],
    ['--cluster-secret', 'SYNCMESH_CLUSTER_SECRET', 'clusterSecret'],
  ] as const)('%s or %s sets it, without the whitespace around it; absent, the node makes one', (flag, env, field) => {
    expect(parse([flag, secret])[field]).toBe(secret)
    expect(parse([], { [env]: ` ${secret}\n` })[field]).toBe(secret)
    expect(parse([])[field]).toBeUndefined()
  })

  test.each([
    ['--admin-token', 'SYNCMESH_ADMIN_TOKEN'],
    ['--cluster-secret', 'SYNCMESH_CLUSTER_SECRET'],
  ])('an empty or short %s (or %s) is a usage error: it would guard nothing', (flag, env) => {
    const error = new UsageError(`${flag}: at least 16 characters, whitespace around them aside; leave it out to have one made`)
    for (const value of ['', '   ', 'fifteen-chars-x', `  ${'x'.repeat(15)}  `]) {
      expect(() => parse([flag, value])).toThrow(error)
      expect(() => parse([], { [env]: value })).toThrow(error)
    }
  })
})

describe('webhook retries', () => {
  test('back off from --webhook-retry-base-ms up to --webhook-retry-max-ms (or their environment variables)', () => {
    expect(parse([]).webhooks?.retry).toEqual({ baseDelayMs: 5_000, maxDelayMs: 3_600_000, retryForMs: 24 * 3_600_000 })
    const set = parse(['--webhook-retry-base-ms', '100', '--webhook-retry-max-ms', '2000'], { SYNCMESH_WEBHOOK_RETRY_HOURS: '2' })
    expect(set.webhooks?.retry).toEqual({ baseDelayMs: 100, maxDelayMs: 2_000, retryForMs: 2 * 3_600_000 })
    expect(parse([], { SYNCMESH_WEBHOOK_RETRY_MAX_MS: '60000' }).webhooks?.retry?.maxDelayMs).toBe(60_000)
    expect(() => parse(['--webhook-retry-max-ms', '0'])).toThrow(UsageError)
  })
})

describe('--join', () => {
  test('takes one URL or several, comma-separated (SYNCMESH_JOIN too); an empty list is a usage error', () => {
    expect(parse(['--join', 'http://a:1']).join).toEqual(['http://a:1'])
    expect(parse([], { SYNCMESH_JOIN: 'http://a:1, https://b:2,' }).join).toEqual(['http://a:1', 'https://b:2'])
    expect(() => parse(['--join', ','])).toThrow(UsageError)
    expect(() => parse(['--join', 'http://a:1,ftp://b'])).toThrow(UsageError)
  })
})
