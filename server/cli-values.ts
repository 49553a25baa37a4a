import { UsageError } from './flags.js'
import type { OptionValues } from './admin-cli.js'

/** A flag's value as a positive whole number, if it was given. */
export function positiveIntFlag(values: OptionValues, name: string): number | undefined {
  return numberFlag(values, name, (n) => Number.isSafeInteger(n) && n > 0, 'a positive whole number')
}

export function wholeNumberFlag(values: OptionValues, name: string): number | undefined {
  return numberFlag(values, name, (n) => Number.isSafeInteger(n) && n >= 0, 'a whole number, 0 or more')
}

export function positiveNumberFlag(values: OptionValues, name: string): number | undefined {
  return numberFlag(values, name, (n) => Number.isFinite(n) && n > 0, 'a positive number')
}

function numberFlag(values: OptionValues, name: string, accept: (n: number) => boolean, what: string): number | undefined {
  const value = values[name]
  if (value === undefined) return undefined
  const n = Number(value)
  if (typeof value !== 'string' || value.trim() === '' || !accept(n)) throw new UsageError(`--${name}: ${what}`)
  return n
}

/** A flag's value, if it was given, as one of `allowed`. */
export function choiceFlag<const T extends string>(values: OptionValues, name: string, allowed: readonly T[]): T | undefined {
  const value = values[name]
  return value === undefined ? undefined : choice(value, name, allowed)
}

/** `a,b` as `['a', 'b']`, each one of `allowed`, if the flag was given. */
export function choicesFlag<const T extends string>(values: OptionValues, name: string, allowed: readonly T[]): T[] | undefined {
  const value = values[name]
  if (typeof value !== 'string') return undefined
  return value
    .split(',')
    .filter((entry) => entry !== '')
    .map((entry) => choice(entry, name, allowed))
}

function choice<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${name}: ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`)
  }
  return value as T
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
