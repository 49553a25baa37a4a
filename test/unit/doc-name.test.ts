import { expect, test } from 'vitest'
import { checkDocName, docNameFromPath, maxDocNameBytes } from '../../src/docs/doc-name.js'

test('the name is the percent-decoded path after the first slash', () => {
  expect(docNameFromPath('/notes%2Fa%20b')).toEqual({ ok: true, name: 'notes/a b' })
  expect(docNameFromPath('/team/notes')).toEqual({ ok: true, name: 'team/notes' })
})

test('empty names, names over 512 bytes and broken percent-encoding are refused', () => {
  expect(docNameFromPath('/').ok).toBe(false)
  expect(docNameFromPath('/%E0%A4%A').ok).toBe(false)
  expect(checkDocName('a'.repeat(maxDocNameBytes)).ok).toBe(true)
  expect(checkDocName('a'.repeat(maxDocNameBytes + 1))).toEqual({
    ok: false,
    message: 'document name is 513 bytes; the limit is 512',
  })
  // 171 three-byte characters: 513 bytes in UTF-8 though only 171 UTF-16 units.
  expect(checkDocName('€'.repeat(171)).ok).toBe(false)
})
