import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { compactedBase, shownBy } from '../../src/docs/compacted-base.js'
import { diffVersions, holdsVersion, restoreUpdate, versionDoc, withoutCommonEnds } from '../../src/history/version-content.js'
import { docToJson } from '../../src/docs/doc-json.js'

const serverDoc = () => new Y.Doc({ gc: false })

function edit(doc: Y.Doc, change: (doc: Y.Doc) => void): void {
  const client = new Y.Doc()
  Y.applyUpdate(client, Y.encodeStateAsUpdate(doc))
  const before = Y.encodeStateVector(client)
  change(client)
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(client, before))
  client.destroy()
}

describe('version content', () => {
  it('rebuilds each version, and a compacted base keeps what retained versions show', () => {
    const doc = serverDoc()
    edit(doc, (d) => d.getText('t').insert(0, 'hello world'))
    const v1 = Y.snapshot(doc)
    edit(doc, (d) => d.getText('t').delete(0, 6))
    edit(doc, (d) => d.getMap('m').set('k', 1))
    const v2 = Y.snapshot(doc)
    edit(doc, (d) => d.getText('t').insert(5, '!'))
    edit(doc, (d) => d.getMap('m').delete('k'))

    const text = (d: Y.Doc) => d.getText('t').toString()
    expect(text(versionDoc(doc, v1))).toBe('hello world')
    expect(text(versionDoc(doc, v2))).toBe('world')

    const kept = serverDoc()
    Y.applyUpdate(kept, compactedBase(doc, shownBy([v1])))
    expect(text(kept)).toBe('world!')
    expect(text(versionDoc(kept, v1))).toBe('hello world')

    const collected = serverDoc()
    const base = compactedBase(doc, shownBy([]))
    Y.applyUpdate(collected, base)
    expect(text(collected)).toBe('world!')
    expect(text(versionDoc(collected, v2))).toBe('world')
    expect(Y.equalSnapshots(Y.snapshot(collected), Y.snapshot(doc))).toBe(true)
  })

  it('drops deleted content that no retained version shows, as Yjs garbage collection does', () => {
    const doc = serverDoc()
    const collecting = new Y.Doc()
    doc.on('update', (update: Uint8Array) => Y.applyUpdate(collecting, update))
    edit(doc, (d) => d.getText('t').insert(0, 'x'.repeat(1000)))
    const v1 = Y.snapshot(doc)
    edit(doc, (d) => d.getText('t').delete(10, 900))
    // Content it drops is dropped from the document too: first what keeps v1, then what keeps nothing.
    expect(compactedBase(doc, shownBy([v1])).byteLength).toBeGreaterThan(1000)
    expect(compactedBase(doc, shownBy([])).byteLength).toBe(Y.encodeStateAsUpdate(collecting).byteLength)
    expect(holdsVersion(doc, v1)).toBe(false)
  })

  it('restores a version by a new update that merges like any edit', () => {
    const doc = serverDoc()
    edit(doc, (d) => {
      d.getText('t').insert(0, 'first draft')
      d.getMap('m').set('title', 'A')
    })
    const v1 = Y.snapshot(doc)
    edit(doc, (d) => {
      d.getText('t').delete(0, 6)
      d.getText('t').insert(0, 'second ')
      d.getMap('m').set('title', 'B')
      d.getMap('m').set('extra', true)
    })
    const replica = serverDoc()
    Y.applyUpdate(replica, Y.encodeStateAsUpdate(doc))
    const update = restoreUpdate(doc, v1)
    Y.applyUpdate(doc, update)
    expect(docToJson(doc)).toEqual({ t: 'first draft', m: { title: 'A' } })
    Y.applyUpdate(replica, update)
    expect(docToJson(replica)).toEqual({ t: 'first draft', m: { title: 'A' } })
  })

  it('says what changed between two versions, per root', () => {
    const doc = serverDoc()
    edit(doc, (d) => {
      d.getText('t').insert(0, 'keep this, drop that')
      d.getMap('m').set('a', 1)
      d.getArray('list').push([1])
    })
    const v1 = Y.snapshot(doc)
    edit(doc, (d) => {
      d.getText('t').delete(10, 10)
      d.getText('t').insert(0, 'new: ')
      d.getMap('m').set('a', 2)
      d.getMap('m').set('b', 'x')
    })
    const v2 = Y.snapshot(doc)
    expect(diffVersions(doc, v1, v2)).toEqual({
      t: { kind: 'text', inserted: ['new: '], deleted: [' drop that'] },
      m: { kind: 'map', changed: [{ key: 'a', before: 1, after: 2 }, { key: 'b', before: null, after: 'x' }] },
    })
    expect(diffVersions(doc, v2, v2)).toEqual({})
  })

  it('counts text deleted and typed again the same as no change: a restored version equals the current state', () => {
    const doc = serverDoc()
    edit(doc, (d) => d.getText('t').insert(0, 'keep this paragraph'))
    const v1 = Y.snapshot(doc)
    edit(doc, (d) => {
      d.getText('t').delete(0, 4)
      d.getText('t').insert(0, 'lose')
    })
    const v2 = Y.snapshot(doc)
    Y.applyUpdate(doc, restoreUpdate(doc, v1))
    const now = Y.snapshot(doc)
    expect(docToJson(doc)).toEqual({ t: 'keep this paragraph' })
    expect(diffVersions(doc, v1, now)).toEqual({})
    expect(diffVersions(doc, v2, now)).toEqual({ t: { kind: 'text', inserted: ['keep'], deleted: ['lose'] } })
    expect(diffVersions(doc, now, v2)).toEqual({ t: { kind: 'text', inserted: ['lose'], deleted: ['keep'] } })
  })

  it('compares versions made apart, neither holding the other', () => {
    const doc = serverDoc()
    edit(doc, (d) => d.getText('t').insert(0, 'base'))
    const apart = serverDoc()
    Y.applyUpdate(apart, Y.encodeStateAsUpdate(doc))
    edit(doc, (d) => d.getText('t').insert(4, ' here'))
    edit(apart, (d) => d.getText('t').insert(0, 'there: '))
    const here = Y.snapshot(doc)
    const there = Y.snapshot(apart)
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(apart))
    expect(diffVersions(doc, here, there)).toEqual({ t: { kind: 'text', inserted: ['there: '], deleted: [' here'] } })
  })

  it('trims only what both runs share, never half of a surrogate pair', () => {
    expect(withoutCommonEnds('abcX', 'abcY')).toEqual(['X', 'Y'])
    expect(withoutCommonEnds("'", "' '")).toEqual(['', " '"])
    expect(withoutCommonEnds('same', 'same')).toEqual(['', ''])
    expect(withoutCommonEnds('aXa', 'aa')).toEqual(['X', ''])
    expect(withoutCommonEnds('\u{1F600}', '\u{1F601}')).toEqual(['\u{1F600}', '\u{1F601}'])
    const text = fc.string({ unit: 'grapheme' })
    fc.assert(
      fc.property(text, text, text, text, (head, a, b, tail) => {
        const [first, second] = [head + a + tail, head + b + tail]
        const [x, y] = withoutCommonEnds(first, second)
        expect([x, y].some((run) => /\p{Cs}/u.test(run))).toBe(false)
        // The runs left are what lies between shared ends of each (the shared start may reach into `tail`, as
        // in the second case above)…
        const start = [...Array(Math.min(first.length, second.length) + 1).keys()].find(
          (at) => first.slice(0, at) === second.slice(0, at) && first.startsWith(x, at) && second.startsWith(y, at),
        )
        expect(start).toBeDefined()
        expect(first.slice(start! + x.length)).toBe(second.slice(start! + y.length))
        // …and those ends are as long as they can be.
        if (x && y) expect(x.codePointAt(0) !== y.codePointAt(0) && [...x].at(-1) !== [...y].at(-1)).toBe(true)
        expect(x.length).toBeLessThanOrEqual(a.length)
      }),
    )
  })

  it('knows when a document lacks part of a version', () => {
    const doc = serverDoc()
    edit(doc, (d) => d.getText('t').insert(0, 'abc'))
    const behind = serverDoc()
    expect(holdsVersion(behind, Y.snapshot(doc))).toBe(false)
    Y.applyUpdate(behind, Y.encodeStateAsUpdate(doc))
    expect(holdsVersion(behind, Y.snapshot(doc))).toBe(true)

    // A version that reaches a node after it compacted away content the version shows.
    const before = Y.snapshot(doc)
    edit(doc, (d) => d.getText('t').delete(0, 2))
    const kept = serverDoc()
    Y.applyUpdate(kept, compactedBase(doc, shownBy([before])))
    expect(holdsVersion(kept, before)).toBe(true)
    const compacted = serverDoc()
    Y.applyUpdate(compacted, compactedBase(doc, shownBy([])))
    expect(holdsVersion(compacted, before)).toBe(false)
    expect(holdsVersion(compacted, Y.snapshot(doc))).toBe(true)
  })
})
