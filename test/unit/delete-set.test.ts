import fc from 'fast-check'
import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'
import { expect, test } from 'vitest'
import { deleteSetDifference, deletesRange, readDeleteRanges, splitDeleteSet, type DeleteSet } from '../../src/protocol/delete-set.js'

/** A delete set as yjs makes one: a few clients, ranges sorted, merged, within small clocks so that ids can be listed. */
const deleteSet: fc.Arbitrary<DeleteSet> = fc
  .array(fc.record({ client: fc.integer({ min: 1, max: 3 }), clock: fc.nat(120), len: fc.integer({ min: 1, max: 12 }) }), { maxLength: 30 })
  .map((ranges) => {
    const ds = Y.createDeleteSet()
    for (const { client, clock, len } of ranges) ds.clients.set(client, [...(ds.clients.get(client) ?? []), { clock, len }])
    return Y.mergeDeleteSets([ds])
  })

/** Every id `ds` deletes, as `client:clock`. */
function idsOf(ds: DeleteSet): Set<string> {
  const ids = new Set<string>()
  for (const [client, ranges] of ds.clients) for (const { clock, len } of ranges) for (let i = 0; i < len; i++) ids.add(`${client}:${clock + i}`)
  return ids
}

/** Whether each client's ranges are sorted, non-empty, and neither overlap nor touch: what the helpers take. */
function isNormal(ds: DeleteSet): boolean {
  return [...ds.clients.values()].every(
    (ranges) => ranges.length > 0 && ranges.every((range, i) => range.len > 0 && (i === 0 || ranges[i - 1]!.clock + ranges[i - 1]!.len < range.clock)),
  )
}

const rangesOf = (ds: DeleteSet) => [...ds.clients].flatMap(([client, ranges]) => ranges.map(({ clock, len }) => ({ client, clock, len })))

test('the difference deletes exactly the ids the current delete set deletes and the confirmed one does not, as yjs would lay them out', () => {
  fc.assert(
    fc.property(deleteSet, deleteSet, (current, confirmed) => {
      const difference = deleteSetDifference(current, confirmed)
      const held = idsOf(confirmed)
      expect(idsOf(difference)).toEqual(new Set([...idsOf(current)].filter((id) => !held.has(id))))
      expect(isNormal(difference)).toBe(true)
    }),
  )
})

test('the difference from a delete set that holds the current one is empty, and from an empty one is the current one', () => {
  fc.assert(
    fc.property(deleteSet, deleteSet, (current, more) => {
      expect(deleteSetDifference(current, Y.mergeDeleteSets([current, more])).clients.size).toBe(0)
      expect(Y.equalDeleteSets(deleteSetDifference(current, Y.createDeleteSet()), current)).toBe(true)
    }),
  )
})

test('a delete set is split, in order, into parts that each encode within the bound and together are the whole', () => {
  fc.assert(
    fc.property(deleteSet, fc.integer({ min: 35, max: 200 }), (ds, maxBytes) => {
      const parts = splitDeleteSet(ds, maxBytes)
      for (const part of parts) {
        expect(Y.encodeSnapshot(Y.createSnapshot(part, new Map())).byteLength).toBeLessThanOrEqual(maxBytes)
        expect(isNormal(part)).toBe(true)
      }
      expect(parts.flatMap(rangesOf)).toEqual(rangesOf(ds))
      expect(parts.length === 0).toBe(ds.clients.size === 0)
    }),
  )
})

test('readDeleteRanges reads every range Y.encodeSnapshot writes, and stops where the delete set ends', () => {
  fc.assert(
    fc.property(deleteSet, (ds) => {
      const decoder = decoding.createDecoder(Y.encodeSnapshot(Y.createSnapshot(ds, new Map())))
      const read = Y.createDeleteSet()
      for (const { client, clock, len } of readDeleteRanges(decoder)) read.clients.set(client, [...(read.clients.get(client) ?? []), { clock, len }])
      expect(Y.equalDeleteSets(read, ds)).toBe(true)
      // What follows is the snapshot's state vector, empty.
      expect(decoding.readVarUint(decoder)).toBe(0)
      expect(decoding.hasContent(decoder)).toBe(false)
    }),
  )
})

test('a delete set deletes a range exactly when it deletes each of its ids', () => {
  const range = fc.record({ client: fc.integer({ min: 1, max: 4 }), clock: fc.nat(140), len: fc.nat(14) })
  fc.assert(
    fc.property(deleteSet, range, (ds, { client, clock, len }) => {
      const ids = idsOf(ds)
      const each = Array.from({ length: len }, (_, i) => ids.has(`${client}:${clock + i}`)).every(Boolean)
      expect(deletesRange(ds, { client, clock, len })).toBe(each)
    }),
  )
})
