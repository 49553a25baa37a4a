import { existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { z } from 'zod'
import { defaultNodeConfig, type NodeConfig } from '../src/node.js'
import { minSecretChars } from '../src/control/secrets.js'
import { defaultChangeRecorderOptions } from '../src/changes/change-recorder.js'
import { defaultRetryPolicy } from '../src/webhooks/retry-schedule.js'
import { defaultDispatcherOptions } from '../src/webhooks/webhook-dispatcher.js'
import { defaultHistoryOptions } from '../src/history/start-history.js'
import { UsageError, parseFlags } from './flags.js'

/** Each flag of `syncmesh start` and the environment variable that sets it when the flag is absent. */
export const startFlags = {
  host: { env: 'SYNCMESH_HOST', help: `address to listen on (default ${defaultNodeConfig.host})` },
  port: { env: 'SYNCMESH_PORT', help: `port to listen on, 0 for any free one (default ${defaultNodeConfig.port})` },
  data: { env: 'SYNCMESH_DATA', help: `directory of the LMDB data (default ${defaultNodeConfig.dataDir})` },
  id: { env: 'SYNCMESH_ID', help: 'name of this node (default: the host name)' },
  'max-message-bytes': {
    env: 'SYNCMESH_MAX_MESSAGE_BYTES',
    help: `largest WebSocket frame or REST body (default ${defaultNodeConfig.maxMessageBytes})`,
  },
  'max-client-messages-per-second': {
    env: 'SYNCMESH_MAX_CLIENT_MESSAGES_PER_SECOND',
    help: `messages a client connection may send per second, bursts of twice that; 0: no limit (default ${defaultNodeConfig.maxClientMessagesPerSecond})`,
  },
  'max-client-bytes-per-second': {
    env: 'SYNCMESH_MAX_CLIENT_BYTES_PER_SECOND',
    help: `bytes a client connection may send per second, bursts of twice that; 0: no limit (default ${defaultNodeConfig.maxClientBytesPerSecond})`,
  },
  'log-level': { env: 'SYNCMESH_LOG_LEVEL', help: 'fatal, error, warn, info, debug or trace (default info)' },
  join: { env: 'SYNCMESH_JOIN', help: 'URL of a cluster member to join through, or several, comma-separated, tried in turn (first start only)' },
  advertise: { env: 'SYNCMESH_ADVERTISE', help: 'URL other nodes use to reach this one (default http://host:port)' },
  'cluster-secret': {
    env: 'SYNCMESH_CLUSTER_SECRET',
    help: 'secret shared by all nodes of a cluster (default: made once, kept in <data>/cluster-secret)',
  },
  'admin-token': {
    env: 'SYNCMESH_ADMIN_TOKEN',
    help: 'bearer token of the admin routes (default: made once, kept in <data>/admin-token)',
  },
  'token-key': {
    env: 'SYNCMESH_TOKEN_KEY',
    help: 'secret of HS256 client tokens; with it (or --token-public-key) clients need a token (default: none, open)',
  },
  'token-public-key': {
    env: 'SYNCMESH_TOKEN_PUBLIC_KEY',
    help: 'PEM file with the Ed25519 public key of EdDSA client tokens',
  },
  'raft-tick-ms': { env: 'SYNCMESH_RAFT_TICK_MS', help: `Raft tick; elections after 10-20 ticks (default ${defaultNodeConfig.raftTickMs})` },
  'control-timeout-ms': {
    env: 'SYNCMESH_CONTROL_TIMEOUT_MS',
    help: `how long a metadata write waits for a quorum before 503 (default ${defaultNodeConfig.controlTimeoutMs})`,
  },
  'peer-route': {
    env: 'SYNCMESH_PEER_ROUTES',
    help: 'ID=URL, repeatable: dial URL to reach peer ID, on this node only (env: a comma-separated list)',
    multiple: true,
  },
  'anti-entropy-ms': {
    env: 'SYNCMESH_ANTI_ENTROPY_MS',
    help: `how often all documents are reconciled with one random peer (default ${defaultNodeConfig.antiEntropyMs})`,
  },
  'change-retention-hours': {
    env: 'SYNCMESH_CHANGE_RETENTION_HOURS',
    help: `how long the change feed (GET /v1/changes) keeps an event (default ${defaultChangeRecorderOptions.retentionMs / 3_600_000})`,
  },
  'max-change-events': {
    env: 'SYNCMESH_MAX_CHANGE_EVENTS',
    help: `most events the change feed keeps; the oldest go first (default ${defaultChangeRecorderOptions.maxEvents})`,
  },
  'webhook-retry-hours': {
    env: 'SYNCMESH_WEBHOOK_RETRY_HOURS',
    help: `how long a webhook delivery is retried before it is marked failed (default ${defaultRetryPolicy.retryForMs / 3_600_000})`,
  },
  'webhook-retry-base-ms': {
    env: 'SYNCMESH_WEBHOOK_RETRY_BASE_MS',
    help: `delay before a delivery's first retry, doubled for each later one up to --webhook-retry-max-ms, with jitter (default ${defaultRetryPolicy.baseDelayMs})`,
  },
  'webhook-retry-max-ms': {
    env: 'SYNCMESH_WEBHOOK_RETRY_MAX_MS',
    help: `longest delay between two attempts of a delivery (default ${defaultRetryPolicy.maxDelayMs}: an hour)`,
  },
  'webhook-timeout-ms': {
    env: 'SYNCMESH_WEBHOOK_TIMEOUT_MS',
    help: `how long a webhook receiver may take to answer one delivery (default ${defaultDispatcherOptions.timeoutMs})`,
  },
  'version-quiet-ms': {
    env: 'SYNCMESH_VERSION_QUIET_MS',
    help: `an automatic version is made once a document edited here has had no edit for this long; 0: never (default ${defaultHistoryOptions.quietMs})`,
  },
  'version-interval-ms': {
    env: 'SYNCMESH_VERSION_INTERVAL_MS',
    help: `…and at least this often while it is being edited; 0: never (default ${defaultHistoryOptions.intervalMs})`,
  },
  'history-keep-versions': {
    env: 'SYNCMESH_HISTORY_KEEP_VERSIONS',
    help: `versions kept per document where its namespace does not say; 0 keeps none (default ${defaultHistoryOptions.defaults.keepVersions})`,
  },
  'history-keep-days': {
    env: 'SYNCMESH_HISTORY_KEEP_DAYS',
    help: `versions older than this are dropped, where the namespace does not say (default ${defaultHistoryOptions.defaults.keepDays})`,
  },
} as const

type FlagName = keyof typeof startFlags

const isRepeatable = (name: FlagName) => 'multiple' in startFlags[name]

const port = z.coerce.number().int().min(0).max(65535)
const positiveInt = z.coerce.number().int().positive()
const httpUrl = z.url({ protocol: /^https?$/ })
const secretFlag = z
  .string()
  .trim()
  .min(minSecretChars, `at least ${minSecretChars} characters, whitespace around them aside; leave it out to have one made`)
  .optional()

const peerRoute = z.string().transform((value, ctx) => {
  const equals = value.indexOf('=')
  const id = value.slice(0, equals)
  const url = value.slice(equals + 1)
  if (equals <= 0 || !httpUrl.safeParse(url).success) {
    ctx.addIssue({ code: 'custom', message: `expected ID=URL with an http(s) URL, got ${JSON.stringify(value)}` })
    return z.NEVER
  }
  return [id, url] as const
})

const peerRoutes = z.array(peerRoute).transform((routes, ctx) => {
  const urlById = new Map<string, string>()
  for (const [id, url] of routes) {
    if (urlById.has(id)) ctx.addIssue({ code: 'custom', message: `peer ${JSON.stringify(id)} is routed twice` })
    urlById.set(id, url)
  }
  return Object.fromEntries(urlById)
})

const startSchema = z.object({
  host: z.string().min(1).default(defaultNodeConfig.host),
  port: port.default(defaultNodeConfig.port),
  data: z.string().min(1).default(defaultNodeConfig.dataDir),
  id: z.string().min(1).default(hostname()),
  'max-message-bytes': positiveInt.default(defaultNodeConfig.maxMessageBytes),
  'max-client-messages-per-second': z.coerce.number().int().min(0).default(defaultNodeConfig.maxClientMessagesPerSecond),
  'max-client-bytes-per-second': z.coerce.number().int().min(0).default(defaultNodeConfig.maxClientBytesPerSecond),
  'log-level': z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  join: z
    .string()
    .transform((list) => list.split(',').map((url) => url.trim()).filter((url) => url.length > 0))
    .pipe(z.array(httpUrl).min(1))
    .optional(),
  advertise: httpUrl.optional(),
  'cluster-secret': secretFlag,
  'admin-token': secretFlag,
  'token-key': z.string().min(32, 'at least 32 characters (HS256 wants a 256-bit secret)').optional(),
  'token-public-key': z
    .string()
    .refine((path) => existsSync(path), 'no such file')
    .optional(),
  'raft-tick-ms': positiveInt.default(defaultNodeConfig.raftTickMs),
  'control-timeout-ms': positiveInt.default(defaultNodeConfig.controlTimeoutMs),
  'peer-route': peerRoutes.optional(),
  'anti-entropy-ms': positiveInt.default(defaultNodeConfig.antiEntropyMs),
  'change-retention-hours': z.coerce.number().positive().default(defaultChangeRecorderOptions.retentionMs / 3_600_000),
  'max-change-events': positiveInt.default(defaultChangeRecorderOptions.maxEvents),
  'webhook-retry-hours': z.coerce.number().positive().default(defaultRetryPolicy.retryForMs / 3_600_000),
  'webhook-retry-base-ms': positiveInt.default(defaultRetryPolicy.baseDelayMs),
  'webhook-retry-max-ms': positiveInt.default(defaultRetryPolicy.maxDelayMs),
  'webhook-timeout-ms': positiveInt.default(defaultDispatcherOptions.timeoutMs),
  'version-quiet-ms': z.coerce.number().int().min(0).default(defaultHistoryOptions.quietMs),
  'version-interval-ms': z.coerce.number().int().min(0).default(defaultHistoryOptions.intervalMs),
  'history-keep-versions': z.coerce.number().int().min(0).max(10_000).default(defaultHistoryOptions.defaults.keepVersions),
  'history-keep-days': z.coerce.number().positive().max(36_500).default(defaultHistoryOptions.defaults.keepDays),
})

export interface StartConfig {
  node: NodeConfig
  logLevel: string
}

/** Flags win over environment variables, which win over defaults. */
export function parseStartConfig(args: string[], env: NodeJS.ProcessEnv): StartConfig {
  const names = Object.keys(startFlags) as FlagName[]
  const values: Record<string, string | string[] | undefined> = parseFlags({
    args,
    options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const, multiple: isRepeatable(name) }])),
    strict: true,
    allowPositionals: false,
  }).values
  const raw = Object.fromEntries(names.map((name) => [name, values[name] ?? envValue(name, env)]))
  const parsed = startSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    // The flag alone: a repeatable flag's path also holds the index of the bad value.
    throw new UsageError(`--${String(issue.path[0])}: ${issue.message}`)
  }
  const c = parsed.data
  return {
    node: {
      ...defaultNodeConfig,
      id: c.id,
      host: c.host,
      port: c.port,
      dataDir: c.data,
      maxMessageBytes: c['max-message-bytes'],
      maxClientMessagesPerSecond: c['max-client-messages-per-second'],
      maxClientBytesPerSecond: c['max-client-bytes-per-second'],
      raftTickMs: c['raft-tick-ms'],
      controlTimeoutMs: c['control-timeout-ms'],
      antiEntropyMs: c['anti-entropy-ms'],
      changes: { retentionMs: c['change-retention-hours'] * 3_600_000, maxEvents: c['max-change-events'] },
      webhooks: {
        retry: {
          retryForMs: c['webhook-retry-hours'] * 3_600_000,
          baseDelayMs: c['webhook-retry-base-ms'],
          maxDelayMs: c['webhook-retry-max-ms'],
        },
        timeoutMs: c['webhook-timeout-ms'],
      },
      history: {
        quietMs: c['version-quiet-ms'],
        intervalMs: c['version-interval-ms'],
        defaults: { keepVersions: c['history-keep-versions'], keepDays: c['history-keep-days'] },
      },
      ...(c.join === undefined ? {} : { join: c.join }),
      ...(c.advertise === undefined ? {} : { advertiseUrl: c.advertise }),
      ...(c['cluster-secret'] === undefined ? {} : { clusterSecret: c['cluster-secret'] }),
      ...(c['admin-token'] === undefined ? {} : { adminToken: c['admin-token'] }),
      ...(c['token-key'] === undefined ? {} : { tokenKey: c['token-key'] }),
      ...(c['token-public-key'] === undefined ? {} : { tokenPublicKeyPath: c['token-public-key'] }),
      ...(c['peer-route'] === undefined ? {} : { peerRoutes: c['peer-route'] }),
    },
    logLevel: c['log-level'],
  }
}

/** A repeatable flag's variable holds a comma-separated list; empty items are skipped. */
function envValue(name: FlagName, env: NodeJS.ProcessEnv): string | string[] | undefined {
  const value = env[startFlags[name].env]
  if (value === undefined || !isRepeatable(name)) return value
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
}

export function startUsage(): string {
  const lines = Object.entries(startFlags).map(
    ([name, { env, help }]) => `  --${name.padEnd(30)} ${help}\n  ${' '.repeat(32)} env ${env}`,
  )
  return `usage: syncmesh start [flags]\n\n${lines.join('\n')}\n`
}
