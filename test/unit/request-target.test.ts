import fc from 'fast-check'
import { expect, test } from 'vitest'
import { maxRequestTargetBytes, parseRequestTarget } from '../../src/http/request-target.js'

test('an origin-form target gives its percent-decoded path and its query', () => {
  const target = parseRequestTarget('/team%2Fnotes/a%20b?token=abc&x=%ZZ#frag')
  expect(target.ok && target.path).toBe('/team/notes/a b')
  expect(target.ok && target.query.get('token')).toBe('abc')
  expect(target.ok && target.query.get('x')).toBe('%ZZ')
  const bare = parseRequestTarget('/d#x?y')
  expect(bare.ok && [bare.path, [...bare.query]]).toEqual(['/d', []])
})

test.each([
  ['//x:99999/d', /single \//],
  ['http://[::1', /single \//],
  ['http://example.com/d', /single \//],
  ['example.com:443', /single \//],
  ['*', /single \//],
  ['', /empty/],
  ['/%E0%A4%A', /percent-encoding/],
  ['/%', /percent-encoding/],
  ['/' + 'a'.repeat(maxRequestTargetBytes), /over 8192 bytes/],
])('%j is refused with a reason', (raw, reason) => {
  const target = parseRequestTarget(raw)
  expect(target.ok).toBe(false)
  expect(!target.ok && target.message).toMatch(reason)
})

test('any string parses to a target or a refusal, never an exception', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string().map((s) => '/' + s)), (raw) => {
      const target = parseRequestTarget(raw)
      expect(typeof target.ok).toBe('boolean')
    }),
    { numRuns: 2_000 },
  )
})
