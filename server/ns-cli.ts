import { UsageError } from './flags.js'
import { adminFlagsUsage, type AdminCommandGroup } from './admin-cli.js'
import { argsOf, pairsFlag, positiveIntFlag, positiveNumberFlag, wholeNumberFlag } from './cli-values.js'
import { rootKinds } from '../src/docs/doc-json.js'
import type { NamespaceSpec } from '../client/admin-client.js'

/** `syncmesh ns …`: namespaces, their schema and limits. */
export const namespaceCommands: AdminCommandGroup = {
  usage: `usage: syncmesh ns <command> [--url URL] [--admin-token TOKEN] [--json]

commands:
  ls                        namespaces with their schema, limits and flags
  put <name> [--roots body:text,meta:map] [--max-update-bytes N] [--max-doc-bytes N] [--read-only] [--public-read]
      [--keep-versions N] [--keep-days D]
                            create or replace a namespace (documents named <name>/…); --keep-…: its
                            version retention (0 versions: no history), else the nodes' flags
  rm <name>                 remove a namespace's declaration

${adminFlagsUsage}
`,
  options: {
    roots: { type: 'string' },
    'max-update-bytes': { type: 'string' },
    'max-doc-bytes': { type: 'string' },
    'read-only': { type: 'boolean', default: false },
    'public-read': { type: 'boolean', default: false },
    'keep-versions': { type: 'string' },
    'keep-days': { type: 'string' },
  },
  async run({ admin }, command, rest, values) {
    switch (command) {
      case 'ls': {
        const list = await admin.namespaces()
        const rows = list.namespaces.map((ns) => {
          const roots = Object.entries(ns.schema.roots).map(([root, kind]) => `${root}:${kind}`).join(',') || '(any roots)'
          const retention = ns.history && [ns.history.keepVersions !== undefined && `keep ${ns.history.keepVersions} versions`, ns.history.keepDays !== undefined && `${ns.history.keepDays} days`]
          const flags = [ns.readOnly && 'read-only', ns.publicRead && 'public-read', ...(retention ?? [])].filter(Boolean).join(' ')
          return `${ns.name.padEnd(20)} ${roots.padEnd(30)} ${flags}`.trimEnd()
        })
        return { json: list, text: rows.length === 0 ? 'no namespaces\n' : rows.join('\n') + '\n' }
      }
      case 'put': {
        const [name] = argsOf(rest, 'ns put', 'name')
        const maxUpdateBytes = positiveIntFlag(values, 'max-update-bytes')
        const maxDocBytes = positiveIntFlag(values, 'max-doc-bytes')
        const keepVersions = wholeNumberFlag(values, 'keep-versions')
        const keepDays = positiveNumberFlag(values, 'keep-days')
        const spec: NamespaceSpec = {
          schema: { roots: pairsFlag(values, 'roots', rootKinds) ?? {} },
          limits: { ...(maxUpdateBytes !== undefined && { maxUpdateBytes }), ...(maxDocBytes !== undefined && { maxDocBytes }) },
          readOnly: values['read-only'] === true,
          publicRead: values['public-read'] === true,
          ...((keepVersions !== undefined || keepDays !== undefined) && {
            history: { ...(keepVersions !== undefined && { keepVersions }), ...(keepDays !== undefined && { keepDays }) },
          }),
        }
        return { json: await admin.putNamespace(name, spec) }
      }
      case 'rm': {
        return { json: await admin.deleteNamespace(...argsOf(rest, 'ns rm', 'name')) }
      }
      default:
        throw new UsageError(`unknown ns command ${JSON.stringify(command)}`)
    }
  },
}
