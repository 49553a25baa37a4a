import { UsageError } from './flags.js'
import type { ClusterOverview } from '../client/admin-client.js'
import { adminFlagsUsage, type AdminCommandGroup } from './admin-cli.js'
import { argsOf } from './cli-values.js'

/** `syncmesh cluster …`: membership and leadership. */
export const clusterCommands: AdminCommandGroup = {
  usage: `usage: syncmesh cluster <command> [--url URL] [--admin-token TOKEN] [--json]

commands:
  ls                      members, roles and the leader
  add <id> <url> [--voter] add a member (as a replica; --voter asks for one more voter)
  rm <id>                 remove a member
  transfer [<id>]         hand leadership to <id>, or to the most caught-up voter

${adminFlagsUsage}
`,
  options: { voter: { type: 'boolean', default: false } },
  async run({ admin }, command, rest, values) {
    switch (command) {
      case 'ls': {
        const view = await admin.cluster({ consistent: true })
        return { json: view, text: formatCluster(view) }
      }
      case 'add': {
        const [id, url] = argsOf(rest, 'cluster add', 'id', 'url')
        return { json: await admin.addMember({ id, url, ...(values.voter ? { role: 'voter' as const } : {}) }) }
      }
      case 'rm': {
        return { json: await admin.removeMember(...argsOf(rest, 'cluster rm', 'id')) }
      }
      case 'transfer':
        return { json: await admin.transferLeadership(rest[0]) }
      default:
        throw new UsageError(`unknown cluster command ${JSON.stringify(command)}`)
    }
  },
}

function formatCluster(view: ClusterOverview): string {
  const rows = view.members.map((m) => `${m.id === view.leader ? '*' : ' '} ${m.id.padEnd(16)} ${m.role.padEnd(8)} ${m.url}`)
  return `term ${view.term}, commit index ${view.commitIndex}, leader ${view.leader ?? '(none)'}\n${rows.join('\n')}\n`
}
