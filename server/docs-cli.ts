import { UsageError } from './flags.js'
import { adminFlagsUsage, type AdminCommandGroup } from './admin-cli.js'
import { argsOf, pairsFlag, positiveIntFlag } from './cli-values.js'
import { rootKinds } from '../src/docs/doc-json.js'

/** `syncmesh docs …`: documents, read and removed with the admin token. */
export const docCommands: AdminCommandGroup = {
  usage: `usage: syncmesh docs <command> [--url URL] [--admin-token TOKEN] [--json]

commands:
  ls [--prefix P] [--limit N] [--cursor C]   one page of document names, sizes and last updates (100 by default)
  get <name> [--types body:text,meta:map]    the document as JSON
  rm <name>                                  delete the document on every node, for good

${adminFlagsUsage}
`,
  options: { prefix: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' }, types: { type: 'string' } },
  async run({ admin, docs }, command, rest, values) {
    switch (command) {
      case 'ls': {
        const limit = positiveIntFlag(values, 'limit')
        const page = await docs.list({
          ...(typeof values.prefix === 'string' && { prefix: values.prefix }),
          ...(limit !== undefined && { limit }),
          ...(typeof values.cursor === 'string' && { cursor: values.cursor }),
        })
        const rows = page.docs.map((d) => `${d.name}  ${String(d.sizeBytes).padStart(10)} B  ${d.updatedAt}`)
        const more = page.nextCursor === null ? '' : `more: --cursor ${page.nextCursor}\n`
        return { json: page, text: (rows.length === 0 ? 'no documents\n' : rows.join('\n') + '\n') + more }
      }
      case 'get': {
        return { json: await docs.readJson(argsOf(rest, 'docs get', 'name')[0], pairsFlag(values, 'types', rootKinds) ?? {}) }
      }
      case 'rm': {
        return { json: await admin.deleteDoc(...argsOf(rest, 'docs rm', 'name')) }
      }
      default:
        throw new UsageError(`unknown docs command ${JSON.stringify(command)}`)
    }
  },
}
