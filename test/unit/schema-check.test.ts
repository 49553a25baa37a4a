import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'
import { describe, expect, test } from 'vitest'
import type { RootKind } from '../../src/docs/doc-json.js'
import { checkUpdateAgainstPolicy, wouldExceedDocLimit, type DocPolicy } from '../../src/docs/schema-check.js'

function policy(roots: Record<string, RootKind>, rest: Partial<DocPolicy> = {}): DocPolicy {
  return { schema: { roots }, limits: {}, readOnly: false, ...rest }
}

/** The whole state of a document built by `build`, as a client syncing it for the first time sends it. */
function updateOf(build: (doc: Y.Doc) => void): Uint8Array {
  const doc = new Y.Doc()
  build(doc)
  return Y.encodeStateAsUpdate(doc)
}

/** Only what `change` adds to `doc`, as a client sends one edit. */
function changeOf(doc: Y.Doc, change: (doc: Y.Doc) => void): Uint8Array {
  const before = Y.encodeStateVector(doc)
  change(doc)
  return Y.encodeStateAsUpdate(doc, before)
}

const writers: Record<RootKind, (doc: Y.Doc) => void> = {
  text: (doc) => doc.getText('root').insert(0, 'hello'),
  map: (doc) => doc.getMap('root').set('title', 'T'),
  array: (doc) => doc.getArray('root').push([1, 'two', { three: 3 }]),
  xml: (doc) => doc.getXmlFragment('root').insert(0, [new Y.XmlElement('p')]),
}

describe('content of the declared kind is allowed', () => {
  test('text with formatting and embeds', () => {
    const update = updateOf((doc) => {
      const text = doc.getText('body')
      text.insert(0, 'hello world')
      text.format(0, 5, { bold: true })
      text.insertEmbed(5, { image: 'cat.png' })
    })
    expect(checkUpdateAgainstPolicy(policy({ body: 'text' }), update)).toEqual({ ok: true })
  })

  test('a map with values, binaries, nested types and a subdocument', () => {
    const update = updateOf((doc) => {
      const map = doc.getMap('meta')
      map.set('title', 'T')
      map.set('title', 'T2')
      map.set('blob', new Uint8Array([1, 2]))
      const nested = new Y.Text()
      map.set('notes', nested)
      nested.insert(0, 'bold', { bold: true })
      map.set('child', new Y.Doc())
    })
    expect(checkUpdateAgainstPolicy(policy({ meta: 'map' }), update)).toEqual({ ok: true })
  })

  test('an array with values, binaries, nested types and a subdocument', () => {
    const update = updateOf((doc) => {
      const array = doc.getArray('items')
      const nested = new Y.Map()
      array.push([1, 'two', new Uint8Array([3]), nested, new Y.Doc()])
      nested.set('inner', new Y.Array())
      array.delete(0)
    })
    expect(checkUpdateAgainstPolicy(policy({ items: 'array' }), update)).toEqual({ ok: true })
  })

  test('an XML fragment with elements, attributes and text', () => {
    const update = updateOf((doc) => {
      const paragraph = new Y.XmlElement('p')
      doc.getXmlFragment('prosemirror').insert(0, [paragraph, new Y.XmlText('tail')])
      paragraph.setAttribute('align', 'left')
      paragraph.insert(0, [new Y.XmlText('hi')])
    })
    expect(checkUpdateAgainstPolicy(policy({ prosemirror: 'xml' }), update)).toEqual({ ok: true })
  })

  test('one update writing every kind of root', () => {
    const update = updateOf((doc) => {
      doc.getText('body').insert(0, 'x')
      doc.getMap('meta').set('k', 1)
      doc.getArray('items').push([1])
      doc.getXmlFragment('xml').insert(0, [new Y.XmlText('x')])
    })
    const roots = { body: 'text', meta: 'map', items: 'array', xml: 'xml' } as const
    expect(checkUpdateAgainstPolicy(policy(roots), update)).toEqual({ ok: true })
  })

  test('edits that follow earlier content in the same update are attributed through their neighbours', () => {
    const doc = new Y.Doc()
    const update = changeOf(doc, (d) => {
      const text = d.getText('body')
      text.insert(0, 'a')
      text.insert(1, 'b')
      text.insert(0, 'c')
    })
    expect(checkUpdateAgainstPolicy(policy({ body: 'text' }), update)).toEqual({ ok: true })
  })
})

describe('undeclared roots are refused', () => {
  test('a root the schema does not name', () => {
    const update = updateOf((doc) => {
      doc.getText('body').insert(0, 'x')
      doc.getMap('extra').set('k', 1)
    })
    expect(checkUpdateAgainstPolicy(policy({ body: 'text' }), update)).toEqual({
      ok: false,
      reason: 'undeclared_root',
      message: 'root "extra" is not declared by the namespace schema',
    })
  })

  test.each(['constructor', 'toString', '__proto__'])('a root named %s is not found on Object.prototype', (name) => {
    const update = updateOf((doc) => doc.getText(name).insert(0, 'x'))
    expect(checkUpdateAgainstPolicy(policy({}), update)).toMatchObject({ ok: false, reason: 'undeclared_root' })
  })

  test('even when all it holds is deleted', () => {
    const update = updateOf((doc) => {
      doc.getText('scratch').insert(0, 'x')
      doc.getText('scratch').delete(0, 1)
    })
    expect(checkUpdateAgainstPolicy(policy({}), update)).toMatchObject({ ok: false, reason: 'undeclared_root' })
  })
})

describe('content of another kind than declared is refused', () => {
  // A Y.Text embed and a Y.Array element may be any Y type, XML nodes included.
  const holds: Record<RootKind, readonly RootKind[]> = {
    text: ['text'],
    map: ['map'],
    array: ['array'],
    xml: ['xml', 'array', 'text'],
  }
  const cases = Object.entries(holds).flatMap(([written, declaredKinds]) =>
    (['text', 'map', 'array', 'xml'] as const).map((declared) => ({
      written: written as RootKind,
      declared,
      allowed: declaredKinds.includes(declared),
    })),
  )

  test.each(cases)('$written content in a root declared $declared: allowed $allowed', ({ written, declared, allowed }) => {
    const result = checkUpdateAgainstPolicy(policy({ root: declared }), updateOf(writers[written]))
    if (allowed) expect(result).toEqual({ ok: true })
    else expect(result).toMatchObject({ ok: false, reason: 'wrong_root_kind' })
  })

  test('the message names the root, its declared kind and what was written', () => {
    expect(checkUpdateAgainstPolicy(policy({ root: 'text' }), updateOf(writers.map))).toEqual({
      ok: false,
      reason: 'wrong_root_kind',
      message: 'root "root" is declared text, but the update writes map key "title" to it',
    })
  })

  test('a nested Y type is no XML node', () => {
    const update = updateOf((doc) => doc.getArray('root').push([new Y.Map()]))
    expect(checkUpdateAgainstPolicy(policy({ root: 'xml' }), update)).toEqual({
      ok: false,
      reason: 'wrong_root_kind',
      message: 'root "root" is declared xml, but the update writes a nested Y type to it',
    })
  })

  test('formatting and embeds belong to text', () => {
    const formatted = updateOf((doc) => doc.getText('root').insert(0, 'x', { bold: true }))
    const embedded = updateOf((doc) => doc.getText('root').insertEmbed(0, { image: 'x' }))
    expect(checkUpdateAgainstPolicy(policy({ root: 'array' }), formatted)).toMatchObject({ reason: 'wrong_root_kind' })
    expect(checkUpdateAgainstPolicy(policy({ root: 'array' }), embedded)).toMatchObject({ reason: 'wrong_root_kind' })
  })

  test('an item encoded without its parent is attributed through a neighbour in the same update', () => {
    // The first item is deleted (no kind); the second names only its right neighbour, the first.
    const update = updateOf((doc) => {
      const array = doc.getArray('root')
      array.insert(0, ['x'])
      array.delete(0)
      array.insert(0, [1])
    })
    expect(checkUpdateAgainstPolicy(policy({ root: 'text' }), update)).toEqual({
      ok: false,
      reason: 'wrong_root_kind',
      message: 'root "root" is declared text, but the update writes array items to it',
    })
  })

  test('a map key set twice stays a map entry, though only its first value names the key', () => {
    const update = updateOf((doc) => {
      doc.getMap('root').set('k', 1)
      doc.getMap('root').set('k', 2)
    })
    expect(checkUpdateAgainstPolicy(policy({ root: 'map' }), update)).toEqual({ ok: true })
  })
})

describe('content the update cannot attribute without the document', () => {
  test('nested content is allowed: its container was checked when it was written', () => {
    const doc = new Y.Doc()
    const nested = new Y.Array()
    doc.getMap('meta').set('list', nested)
    const update = changeOf(doc, () => nested.push([new Y.Text('x')]))
    expect(checkUpdateAgainstPolicy(policy({ meta: 'map' }), update)).toEqual({ ok: true })
  })

  test('content beside stored content is allowed, even of another kind (a known limit)', () => {
    const doc = new Y.Doc()
    doc.getArray('root').push([1])
    const update = changeOf(doc, (d) => d.getArray('root').push([2]))
    expect(checkUpdateAgainstPolicy(policy({ root: 'text' }), update)).toEqual({ ok: true })
  })

  test('typing after stored text is allowed', () => {
    const doc = new Y.Doc()
    doc.getText('body').insert(0, 'hello')
    const update = changeOf(doc, (d) => d.getText('body').insert(5, ' world'))
    expect(checkUpdateAgainstPolicy(policy({ body: 'text' }), update)).toEqual({ ok: true })
  })

  test('a cycle of neighbours, which Yjs can never integrate, ends the walk', () => {
    // Hand-encoded: two items, each placed to the right of the other.
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 2)
    for (const [client, neighbour] of [[1, 2], [2, 1]] as const) {
      encoding.writeVarUint(encoder, 1) // structs of this client
      encoding.writeVarUint(encoder, client)
      encoding.writeVarUint(encoder, 0) // first clock
      encoding.writeUint8(encoder, 0b1000_0000 | 8) // has an origin; content: ContentAny
      encoding.writeVarUint(encoder, neighbour)
      encoding.writeVarUint(encoder, 0)
      encoding.writeVarUint(encoder, 1)
      encoding.writeAny(encoder, 'x')
    }
    encoding.writeVarUint(encoder, 0) // empty delete set
    expect(checkUpdateAgainstPolicy(policy({}), encoding.toUint8Array(encoder))).toEqual({ ok: true })
  })

  test('deletions only never create a root', () => {
    const doc = new Y.Doc()
    doc.getText('undeclared').insert(0, 'hello')
    const update = changeOf(doc, (d) => d.getText('undeclared').delete(0, 5))
    expect(checkUpdateAgainstPolicy(policy({}), update)).toEqual({ ok: true })
  })
})

describe('read-only namespaces', () => {
  const readOnly = policy({ body: 'text' }, { readOnly: true })

  test('refuse content', () => {
    expect(checkUpdateAgainstPolicy(readOnly, updateOf((doc) => doc.getText('body').insert(0, 'x')))).toEqual({
      ok: false,
      reason: 'read_only',
      message: 'documents in this namespace are read-only',
    })
  })

  test('refuse deletions', () => {
    const doc = new Y.Doc()
    doc.getText('body').insert(0, 'x')
    const update = changeOf(doc, (d) => d.getText('body').delete(0, 1))
    expect(checkUpdateAgainstPolicy(readOnly, update)).toMatchObject({ ok: false, reason: 'read_only' })
  })

  test('allow an update that changes nothing, such as an empty sync step 2', () => {
    expect(checkUpdateAgainstPolicy(readOnly, Y.encodeStateAsUpdate(new Y.Doc()))).toEqual({ ok: true })
  })
})

describe('size limits', () => {
  const update = updateOf(writers.text)

  test('an update over maxUpdateBytes is refused, one at the limit is not', () => {
    const atLimit = policy({ root: 'text' }, { limits: { maxUpdateBytes: update.byteLength } })
    const belowLimit = policy({ root: 'text' }, { limits: { maxUpdateBytes: update.byteLength - 1 } })
    expect(checkUpdateAgainstPolicy(atLimit, update)).toEqual({ ok: true })
    expect(checkUpdateAgainstPolicy(belowLimit, update)).toEqual({
      ok: false,
      reason: 'update_too_large',
      message: `the update is ${update.byteLength} bytes; the namespace allows ${update.byteLength - 1}`,
    })
  })

  test('a document may grow up to maxDocBytes and no further', () => {
    expect(wouldExceedDocLimit(90, 10, { maxDocBytes: 100 })).toBe(false)
    expect(wouldExceedDocLimit(91, 10, { maxDocBytes: 100 })).toBe(true)
    expect(wouldExceedDocLimit(1e12, 10, {})).toBe(false)
  })
})

test('bytes that are no Yjs update are refused', () => {
  expect(checkUpdateAgainstPolicy(policy({}), new Uint8Array([5, 200, 1]))).toMatchObject({
    ok: false,
    reason: 'invalid_update',
  })
})
