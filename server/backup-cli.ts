import { createWriteStream, renameSync, rmSync } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { UsageError, parseFlags } from './flags.js'
import { adminFlagsUsage } from './admin-cli.js'
import { restoreBackup } from '../src/control/restore.js'

export const backupUsage = `usage: syncmesh backup --out FILE [--url URL] [--admin-token TOKEN]
       syncmesh restore --from FILE --data DIR

backup   a consistent copy of a node's documents and metadata, taken while it serves (GET /v1/backup)
restore  a new node's data directory made from a backup; start it alone (a new cluster with the backup's
         metadata) or with --join URL (it joins that cluster, under a new id)

${adminFlagsUsage}
`

function flags(args: string[], names: string[]): Record<string, string | undefined> {
  const { values } = parseFlags({ args, options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])) })
  return values as Record<string, string | undefined>
}

/** `syncmesh backup`: downloads a node's backup into `--out`, whole or not at all. Returns the exit code. */
export async function runBackup(args: string[], env: NodeJS.ProcessEnv, out: (text: string) => void): Promise<number> {
  const values = flags(args, ['out', 'url', 'admin-token'])
  if (!values.out) throw new UsageError('backup needs --out FILE')
  const base = values.url ?? env.SYNCMESH_URL ?? 'http://127.0.0.1:4000'
  const token = values['admin-token'] ?? env.SYNCMESH_ADMIN_TOKEN
  if (!token) throw new UsageError('the admin token is needed: --admin-token or SYNCMESH_ADMIN_TOKEN')
  let res: Response
  try {
    res = await fetch(new URL('/v1/backup', base), { headers: { authorization: `Bearer ${token}` } })
  } catch (err) {
    out(`syncmesh: cannot reach ${base}: ${(err as Error).message}\n`)
    return 1
  }
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null
    out(`syncmesh: ${res.status} ${body?.error?.code ?? 'http_error'}: ${body?.error?.message ?? res.statusText}\n`)
    return 1
  }
  const partial = `${values.out}.partial`
  try {
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(partial))
    renameSync(partial, values.out)
  } catch (err) {
    rmSync(partial, { force: true })
    out(`syncmesh: the backup did not arrive whole: ${(err as Error).message}\n`)
    return 1
  }
  out(`backup of ${base} written to ${values.out}\n`)
  return 0
}

/** `syncmesh restore`: a new data directory from a backup file. Returns the exit code. */
export async function runRestore(args: string[], out: (text: string) => void): Promise<number> {
  const values = flags(args, ['from', 'data'])
  if (!values.from || !values.data) throw new UsageError('restore needs --from FILE --data DIR')
  const { bytes } = await restoreBackup(values.from, values.data)
  out(`restored ${bytes} bytes into ${values.data}; start it with: syncmesh start --data ${values.data} [--join URL --id NEW-ID]\n`)
  return 0
}
