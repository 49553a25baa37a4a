import fc from 'fast-check'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { expect, test } from 'vitest'
import { maxDocNameBytes } from '../../src/docs/doc-name.js'
import { decodeMetaState, encodeMetaState } from '../../src/meta/codec.js'
import { emptyMetaState, type MetaState } from '../../src/meta/state.js'
import { encodeFormat1MetaState } from '../helpers/legacy-meta-snapshot.js'

const withTombstones = (tombstones: Iterable<[string, number]>): MetaState => {
  const state = emptyMetaState()
  state.members.set('n1', { id: 'n1', url: 'http://127.0.0.1:4001', role: 'voter' })
  state.removedMembers.add('n0')
  state.recentResults.set('r1', { ok: true })
  for (const [name, index] of tombstones) state.tombstones.set(name, index)
  return state
}

/** Document names as clients make them: well-formed Unicode, often under a shared namespace, 1 to 512 bytes. */
const docName = fc
  .tuple(fc.constantFrom('', 'notes/', 'notes/2024/', 'ü/'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }))
  .map(([prefix, rest]) => prefix + rest)
  .filter((name) => Buffer.byteLength(name) <= maxDocNameBytes)
const tombstones = fc.array(fc.tuple(docName, fc.nat()), { maxLength: 60 })
/** Names a `delete-doc` command refuses, so no committed log holds: empty, or past the limit in bytes. */
const notADocName = fc.constantFrom('', 'x'.repeat(maxDocNameBytes + 1), `${'é'.repeat(maxDocNameBytes / 2)}x`)

test('a snapshot holds every tombstone, in any insertion order, and decodes to the same state', () => {
  fc.assert(
    fc.property(tombstones, (entries) => {
      const state = withTombstones(entries)
      const bytes = encodeMetaState(state)
      expect(decodeMetaState(bytes)).toEqual({ ok: true, state })
      const reversed = withTombstones([...state.tombstones].reverse())
      expect(Buffer.from(encodeMetaState(reversed))).toEqual(Buffer.from(bytes))
    }),
  )
})

test('a snapshot with a tombstone whose name no document could have is refused as a value, as format 1 refuses it', () => {
  fc.assert(
    fc.property(tombstones, fc.tuple(notADocName, fc.nat()), (entries, bad) => {
      const state = withTombstones([...entries, bad])
      const refused = { ok: false, message: expect.stringMatching(/tombstone/) }
      expect(decodeMetaState(encodeMetaState(state))).toMatchObject(refused)
      expect(decodeMetaState(encodeFormat1MetaState(state))).toMatchObject(refused)
    }),
  )
})

test('a tombstone whose name UTF-8 cannot carry (a lone surrogate) is not written at all', () => {
  expect(() => encodeMetaState(withTombstones([['notes/\uDC00', 3]]))).toThrow(/not well-formed/)
})

test('a format 1 snapshot, as older data directories hold, decodes to the state it was written from', () => {
  fc.assert(
    fc.property(tombstones, (entries) => {
      const state = withTombstones(entries)
      expect(decodeMetaState(encodeFormat1MetaState(state))).toEqual({ ok: true, state })
    }),
  )
})

test('a format 1 snapshot written by the old release decodes', () => {
  const written =
    '{"format":1,"voterTarget":3,"members":[{"id":"n1","url":"http://127.0.0.1:4001","role":"voter"}],' +
    '"namespaces":[{"name":"notes","schema":{"roots":{"body":"text"}},"limits":{},"readOnly":false,"publicRead":false}],' +
    '"tombstones":[["notes/a",7],["notes/b",9]],"removedMembers":["n0"],' +
    '"recentResults":[["r1",{"ok":true}],["r2",{"ok":false,"code":"conflict","message":"taken"}]]}'
  const decoded = decodeMetaState(new TextEncoder().encode(written))
  expect(decoded.ok).toBe(true)
  if (!decoded.ok) return
  expect([...decoded.state.tombstones]).toEqual([
    ['notes/a', 7],
    ['notes/b', 9],
  ])
  expect(decoded.state.namespaces.get('notes')).toMatchObject({ schema: { roots: { body: 'text' } } })
  expect([...decoded.state.recentResults.keys()]).toEqual(['r1', 'r2'])
  // Written again, it takes the current format, and reads back the same.
  const rewritten = encodeMetaState(decoded.state)
  expect(rewritten[0]).toBe(2)
  expect(decodeMetaState(rewritten)).toEqual(decoded)
})

test('tombstones under a shared prefix cost a few bytes each: 300,000 fit in a small fraction of format 1', () => {
  const state = withTombstones(Array.from({ length: 300_000 }, (_, i) => [`notes/2024/meeting-${i}`, 1_000_000 + i]))
  const compact = encodeMetaState(state).byteLength
  const json = encodeFormat1MetaState(state).byteLength
  expect(compact / 300_000).toBeLessThan(10)
  expect(compact * 4).toBeLessThan(json)
})

test('a tombstone block that is cut, repeats a name, or is out of order is refused as a value', () => {
  const bytes = encodeMetaState(withTombstones([['a', 1], ['b', 2]]))
  expect(decodeMetaState(bytes.subarray(0, bytes.byteLength - 1))).toMatchObject({ ok: false })
  expect(decodeMetaState(Uint8Array.from([...bytes, 0]))).toMatchObject({ ok: false, message: 'snapshot has bytes after its end' })
  // The last name's suffix is its last byte but two ("b", then its index): make it "a" again.
  const repeated = Uint8Array.from(bytes)
  repeated[repeated.byteLength - 2] = 'a'.charCodeAt(0)
  expect(decodeMetaState(repeated)).toMatchObject({ ok: false, message: expect.stringContaining('out of order or repeated') })
  expect(decodeMetaState(Uint8Array.from([3, 0]))).toMatchObject({ ok: false, message: 'snapshot format 3 is unknown' })
})

test('webhooks are in the snapshot; a snapshot made before webhooks decodes with none', () => {
  const state = withTombstones([['notes/a', 3]])
  const hook = { id: 'wh_0123456789abcdefghij', url: 'https://hooks.example/x', events: ['updated'] as const, prefix: '', secret: `whsec_${'A'.repeat(43)}=` }
  state.webhooks.set(hook.id, { ...hook, events: [...hook.events] })
  expect(decodeMetaState(encodeMetaState(state))).toEqual({ ok: true, state })

  // Format 2 as the release before webhooks wrote it: the JSON part without the field.
  const decoder = decoding.createDecoder(encodeMetaState(withTombstones([['notes/a', 3]])))
  const format = decoding.readVarUint(decoder)
  const fields = JSON.parse(new TextDecoder().decode(decoding.readVarUint8Array(decoder)))
  expect(fields.webhooks).toEqual([])
  delete fields.webhooks
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, format)
  encoding.writeVarUint8Array(encoder, new TextEncoder().encode(JSON.stringify(fields)))
  encoding.writeUint8Array(encoder, decoding.readTailAsUint8Array(decoder))
  const older = encoding.toUint8Array(encoder)
  const decoded = decodeMetaState(older)
  expect(decoded).toMatchObject({ ok: true })
  expect(decoded.ok && decoded.state.webhooks.size).toBe(0)
})
