import { expect, test } from 'vitest'
import { checkDocName, docNameFromPath, maxDocNameBytes } from '../../src/docs/doc-name.js'

test('the name is the path after its leading slash', () => {
  expect(docNameFromPath('/notes/a b')).toEqual({ ok: true, name: 'notes/a b' })
  expect(docNameFromPath('/').ok).toBe(false)
  expect(docNameFromPath('/_peer')).toEqual({ ok: false, message: 'document name "_peer" is reserved' })
  expect(docNameFromPath('/..')).toEqual({ ok: false, message: 'document name ".." is reserved' })
  expect(docNameFromPath('/.').ok).toBe(false)
  expect(docNameFromPath('/a/../b')).toEqual({ ok: true, name: 'a/../b' })
})

test('empty names and names over 512 bytes are refused', () => {
  expect(checkDocName('').ok).toBe(false)
  expect(checkDocName('a'.repeat(maxDocNameBytes)).ok).toBe(true)
  expect(checkDocName('a'.repeat(maxDocNameBytes + 1))).toEqual({
    ok: false,
    message: 'document name is 513 bytes; the limit is 512',
  })
  // 171 three-byte characters: 513 bytes in UTF-8 though only 171 UTF-16 units.
  expect(checkDocName('€'.repeat(171)).ok).toBe(false)
})
