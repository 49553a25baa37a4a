import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { shownBy } from '../../src/docs/compacted-base.js'
import { deleteSetDifference, type DeleteSet } from '../../src/protocol/delete-set.js'
import { RetainedContent } from '../../src/history/retained-content.js'
import { decodeVersionSnapshot, encodeVersionSnapshot, type VersionRecord } from '../../src/history/version-records.js'

const holdsAll = (outer: DeleteSet, inner: DeleteSet) => deleteSetDifference(inner, outer).clients.size === 0
const sameIds = (a: DeleteSet, b: DeleteSet) => holdsAll(a, b) && holdsAll(b, a)

type Step = { edit: { at: number; insert: string; remove: number } } | { version: true } | { retire: number }

const steps = fc.array(
  fc.oneof(
    fc.record({ edit: fc.record({ at: fc.nat(), insert: fc.string({ maxLength: 5 }), remove: fc.nat({ max: 4 }) }) }),
    fc.constant({ version: true as const }),
    fc.record({ retire: fc.nat() }),
  ),
  { maxLength: 60 },
) as fc.Arbitrary<Step[]>

describe('the content retained versions show, carried between compactions', () => {
  it('always holds what the retained versions show, and no more than versions it was given ever showed', () => {
    fc.assert(
      fc.property(steps, (run) => {
        const doc = new Y.Doc({ gc: false })
        const text = doc.getText('t')
        const retained = new RetainedContent()
        let versions: VersionRecord[] = []
        const everGiven: Y.Snapshot[] = []
        for (const step of run) {
          if ('edit' in step) {
            const at = step.edit.at % (text.length + 1)
            text.delete(at, Math.min(step.edit.remove, text.length - at))
            text.insert(at, step.edit.insert)
          } else if ('version' in step) {
            const snapshot = Y.snapshot(doc)
            everGiven.push(snapshot)
            const id = `v_${everGiven.length.toString(16).padStart(20, '0')}`
            versions = [{ id, label: '', timeMs: 0, by: null, kind: 'named', editors: [], snapshot: Y.encodeSnapshotV2(snapshot) }, ...versions]
          } else if (versions.length > 0) {
            versions = versions.filter((_, at) => at !== step.retire % versions.length)
          }
          const shown = retained.of('d', versions)
          expect(holdsAll(shown, shownBy(versions.map((v) => decodeVersionSnapshot(v))))).toBe(true)
          expect(holdsAll(shownBy(everGiven), shown)).toBe(true)
        }
      }),
    )
  })

  it('lets go of retired versions once more than an eighth of those it covers are retired', () => {
    const doc = new Y.Doc({ gc: false })
    const text = doc.getText('t')
    const versions: VersionRecord[] = []
    for (let i = 0; i < 16; i++) {
      text.insert(0, `edit ${i} `)
      versions.unshift({ id: `v_${String(i).padStart(20, '0')}`, label: '', timeMs: i, by: null, kind: 'named', editors: [], snapshot: encodeVersionSnapshot(doc) })
      text.delete(0, text.length)
    }
    const retained = new RetainedContent()
    const exact = (kept: VersionRecord[]) => shownBy(kept.map((v) => decodeVersionSnapshot(v)))
    expect(sameIds(retained.of('d', versions), exact(versions))).toBe(true)
    // Two of sixteen retired: an eighth, still kept.
    expect(sameIds(retained.of('d', versions.slice(0, 14)), exact(versions))).toBe(true)
    // A third: more than an eighth, computed again from those retained.
    expect(sameIds(retained.of('d', versions.slice(0, 13)), exact(versions.slice(0, 13)))).toBe(true)
  })
})
