import { parseArgs } from 'node:util'
import { UsageError } from './config.js'
import { createAdminClient, type ClusterOverview } from '../client/admin-client.js'
import { SyncmeshApiError } from '../client/api-error.js'

export const clusterUsage = `usage: syncmesh cluster <command> [--url URL] [--admin-token TOKEN] [--json]

commands:
  ls                      members, roles and the leader
  add <id> <url> [--voter] add a member (as a replica; --voter asks for one more voter)
  rm <id>                 remove a member
  transfer [<id>]         hand leadership to <id>, or to the most caught-up voter

--url defaults to $SYNCMESH_URL or http://127.0.0.1:4000; the token to $SYNCMESH_ADMIN_TOKEN.
`


/** `syncmesh cluster …`: the admin REST API for people and scripts. Returns the exit code. */
export async function runClusterCommand(args: string[], env: NodeJS.ProcessEnv, out: (text: string) => void): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        'admin-token': { type: 'string' },
        json: { type: 'boolean', default: false },
        voter: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values, positionals } = parsed
  const [command, ...rest] = positionals
  if (values.help || command === undefined) {
    out(clusterUsage)
    return 0
  }
  const base = values.url ?? env.SYNCMESH_URL ?? 'http://127.0.0.1:4000'
  const token = values['admin-token'] ?? env.SYNCMESH_ADMIN_TOKEN
  if (!token) throw new UsageError('the admin token is needed: --admin-token or SYNCMESH_ADMIN_TOKEN')

  const admin = createAdminClient({ url: base, token })

  try {
    let result: unknown
    switch (command) {
      case 'ls': {
        const view = await admin.cluster({ consistent: true })
        if (!values.json) {
          out(formatCluster(view))
          return 0
        }
        result = view
        break
      }
      case 'add': {
        const [id, url] = rest
        if (!id || !url) throw new UsageError('cluster add needs <id> <url>')
        result = await admin.addMember({ id, url, ...(values.voter ? { role: 'voter' as const } : {}) })
        break
      }
      case 'rm': {
        const [id] = rest
        if (!id) throw new UsageError('cluster rm needs <id>')
        result = await admin.removeMember(id)
        break
      }
      case 'transfer':
        result = await admin.transferLeadership(rest[0])
        break
      default:
        throw new UsageError(`unknown cluster command ${JSON.stringify(command)}`)
    }
    out(JSON.stringify(result, null, values.json ? 0 : 2) + '\n')
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

function formatCluster(view: ClusterOverview): string {
  const rows = view.members.map((m) => `${m.id === view.leader ? '*' : ' '} ${m.id.padEnd(16)} ${m.role.padEnd(8)} ${m.url}`)
  return `term ${view.term}, commit index ${view.commitIndex}, leader ${view.leader ?? '(none)'}\n${rows.join('\n')}\n`
}
