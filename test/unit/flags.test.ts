import { expect, test } from 'vitest'
import fc from 'fast-check'
import { UsageError, parseFlags } from '../../server/flags.js'

const options = { cursor: { type: 'string' }, json: { type: 'boolean' }, tag: { type: 'string', multiple: true } } as const

test('a flag takes the next argument as its value whatever it begins with, unless it is another flag', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1 }).filter((v) => v !== '--json' && v !== '--cursor' && v !== '--tag'), (value) => {
      const { values, positionals } = parseFlags({ args: ['ls', '--cursor', value, '--json', '--tag', value], options, allowPositionals: true })
      expect(values).toEqual({ cursor: value, json: true, tag: [value] })
      expect(positionals).toEqual(['ls'])
    }),
  )
  expect(parseFlags({ args: ['--cursor', '-Xk3'], options }).values.cursor).toBe('-Xk3')
  expect(parseFlags({ args: ['--', '--cursor', '-x'], options, allowPositionals: true }).positionals).toEqual(['--cursor', '-x'])
})

test('a flag with no value, or an unknown one, is a usage error that names it', () => {
  expect(() => parseFlags({ args: ['--cursor', '--json'], options })).toThrow(UsageError)
  expect(() => parseFlags({ args: ['--cursor'], options })).toThrow(/--cursor/)
  expect(() => parseFlags({ args: ['--nope'], options })).toThrow(/--nope/)
})
