import type { ParseArgsConfig } from 'node:util'
import { UsageError, parseFlags } from './flags.js'
import { createAdminClient, type AdminClient } from '../client/admin-client.js'
import { SyncmeshApiError } from '../client/api-error.js'
import { createDocsClient, type DocsClient } from '../client/docs-client.js'

type Options = NonNullable<ParseArgsConfig['options']>
export type OptionValues = Record<string, string | boolean | undefined>

/** The REST clients a command uses, both with the admin token. */
export interface AdminClients {
  admin: AdminClient
  docs: DocsClient
}

/** One `syncmesh <group> …` command group of the REST API for admins (cluster, ns, docs, webhooks). */
export interface AdminCommandGroup {
  usage: string
  /** Flags beyond --url, --admin-token, --json and --help. */
  options: Options
  /** Runs `command`; the answer is printed as JSON, or as `text` when there is one and --json is not given. */
  run(clients: AdminClients, command: string, args: string[], values: OptionValues): Promise<{ json: unknown; text?: string }>
}

export const adminFlagsUsage = '--url defaults to $SYNCMESH_URL or http://127.0.0.1:4000; the token to $SYNCMESH_ADMIN_TOKEN.'

/** Runs one command of `group` for people and scripts; returns the exit code. */
export async function runAdminCommand(
  group: AdminCommandGroup,
  args: string[],
  env: NodeJS.ProcessEnv,
  out: (text: string) => void,
): Promise<number> {
  const { values, positionals } = parseFlags({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      'admin-token': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      ...group.options,
    },
  })
  const [command, ...rest] = positionals
  if (values.help || command === undefined) {
    out(group.usage)
    return 0
  }
  const base = (values.url as string | undefined) ?? env.SYNCMESH_URL ?? 'http://127.0.0.1:4000'
  const token = (values['admin-token'] as string | undefined) ?? env.SYNCMESH_ADMIN_TOKEN
  if (!token) throw new UsageError('the admin token is needed: --admin-token or SYNCMESH_ADMIN_TOKEN')

  try {
    const clients = { admin: createAdminClient({ url: base, token }), docs: createDocsClient({ url: base, token }) }
    const answer = await group.run(clients, command, rest, values)
    out(answer.text !== undefined && !values.json ? answer.text : JSON.stringify(answer.json, null, values.json ? 0 : 2) + '\n')
    return 0
  } catch (err) {
    if (err instanceof SyncmeshApiError) {
      out(`syncmesh: ${err.status} ${err.code}: ${err.message}\n`)
      return 1
    }
    if (err instanceof UsageError) throw err
    out(`syncmesh: cannot reach ${base}: ${(err as Error).message}\n`)
    return 1
  }
}
