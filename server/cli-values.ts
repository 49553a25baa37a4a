import { UsageError } from './config.js'
import type { OptionValues } from './admin-cli.js'

/** A flag's value as a positive whole number, if it was given. */
export function positiveIntFlag(values: OptionValues, name: string): number | undefined {
  const value = values[name]
  if (value === undefined) return undefined
  const n = Number(value)
  if (typeof value !== 'string' || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${name}: a positive whole number`)
  return n
}

/** `a:x,b:y` as `{ a: 'x', b: 'y' }`, each value one of `kinds`. */
export function pairsFlag<K extends string>(values: OptionValues, name: string, kinds: readonly K[]): Record<string, K> | undefined {
  const value = values[name]
  if (typeof value !== 'string') return undefined
  const pairs: Record<string, K> = {}
  for (const entry of value.split(',').filter((e) => e !== '')) {
    const at = entry.lastIndexOf(':')
    const kind = entry.slice(at + 1)
    if (at <= 0 || !(kinds as readonly string[]).includes(kind)) throw new UsageError(`--${name}: each entry is <root>:<${kinds.join('|')}>, not ${JSON.stringify(entry)}`)
    pairs[entry.slice(0, at)] = kind as K
  }
  return pairs
}

/** The command's arguments, one for each of `names`, all given; a usage error naming them otherwise. */
export function argsOf<const N extends readonly string[]>(rest: string[], command: string, ...names: N): { [K in keyof N]: string } {
  if (rest.length < names.length || rest.slice(0, names.length).some((arg) => arg === '')) {
    throw new UsageError(`${command} needs ${names.map((n) => `<${n}>`).join(' ')}`)
  }
  return rest.slice(0, names.length) as { [K in keyof N]: string }
}
