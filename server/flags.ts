import { parseArgs, type ParseArgsConfig } from 'node:util'

export class UsageError extends Error {
  override name = 'UsageError'
}

/**
 * `parseArgs`, with a wrong flag reported as a UsageError, and with a value-taking flag's value read
 * from the next argument even when it begins with `-`: `parseArgs` refuses `--cursor -Xk3…` as
 * ambiguous, yet cursors are base64url and one in 64 begins with `-`, and `--max-doc-bytes -5` deserves
 * "must be positive", not "ambiguous". A flag's name is never taken as a value: `--admin-token --json` stays
 * an error, not a token.
 */
export function parseFlags<const T extends ParseArgsConfig & { args: string[] }>(config: T): ReturnType<typeof parseArgs<T>> {
  const options = config.options ?? {}
  const flagNamed = (arg: string) => (arg.startsWith('--') && Object.hasOwn(options, arg.slice(2)) ? options[arg.slice(2)] : undefined)
  const args: string[] = []
  for (let i = 0; i < config.args.length; i++) {
    const arg = config.args[i]!
    const value = config.args[i + 1]
    if (arg === '--') {
      args.push(...config.args.slice(i))
      break
    }
    if (flagNamed(arg)?.type === 'string' && value?.startsWith('-') && flagNamed(value) === undefined) {
      args.push(`${arg}=${value}`)
      i++
    } else {
      args.push(arg)
    }
  }
  try {
    return parseArgs<T>({ ...config, args })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}
