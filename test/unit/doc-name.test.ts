import { expect, test } from 'vitest'
import { checkDocName, docNameFromRequestTarget, maxDocNameBytes } from '../../src/docs/doc-name.js'

test('the name is the percent-decoded path after the first slash, without the query string', () => {
  expect(docNameFromRequestTarget('/notes%2Fa%20b')).toEqual({ ok: true, name: 'notes/a b' })
  expect(docNameFromRequestTarget('/team/notes?token=abc')).toEqual({ ok: true, name: 'team/notes' })
  expect(docNameFromRequestTarget('//double')).toEqual({ ok: true, name: '/double' })
  expect(docNameFromRequestTarget('/?x=1').ok).toBe(false)
  expect(docNameFromRequestTarget('/%5Fpeer')).toEqual({ ok: false, message: 'document name "_peer" is reserved' })
})

test('empty names, names over 512 bytes and broken percent-encoding are refused', () => {
  expect(docNameFromRequestTarget('/').ok).toBe(false)
  expect(docNameFromRequestTarget('/%E0%A4%A').ok).toBe(false)
  expect(checkDocName('a'.repeat(maxDocNameBytes)).ok).toBe(true)
  expect(checkDocName('a'.repeat(maxDocNameBytes + 1))).toEqual({
    ok: false,
    message: 'document name is 513 bytes; the limit is 512',
  })
  // 171 three-byte characters: 513 bytes in UTF-8 though only 171 UTF-16 units.
  expect(checkDocName('€'.repeat(171)).ok).toBe(false)
})
