import fc from 'fast-check'
import * as Y from 'yjs'
import { describe, expect, test } from 'vitest'
import { checkUpdate } from '../../src/docs/validate-update.js'

function hex(bytes: string): Uint8Array {
  return Uint8Array.from(Buffer.from(bytes.replace(/\s+/g, ''), 'hex'))
}

function loaded(update: Uint8Array): Y.Doc {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc
}

function refusal(update: Uint8Array): string {
  const check = checkUpdate(update)
  if (check.ok) throw new Error('the update was accepted')
  expect(check.reason).toBe('invalid_update')
  return check.message
}

/** The text of root `t` in a doc given `deletions` before `content`, and in one given them after. */
function textBothOrders(deletions: Uint8Array, content: Uint8Array): [string, string] {
  const deletionsFirst = loaded(deletions)
  Y.applyUpdate(deletionsFirst, content)
  const contentFirst = loaded(content)
  Y.applyUpdate(contentFirst, deletions)
  return [deletionsFirst.getText('t').toString(), contentFirst.getText('t').toString()]
}

// Client 9 wrote "abcdefghijklmnop" into root `t`.
const sixteenLetters = hex('01 01 09 00 04 01 01 74 10 6162636465666768696a6b6c6d6e6f70 00')

/**
 * Each update below decodes with `Y.decodeUpdate` (the whole check before) but breaks Yjs; bytes are v1:
 * #blocks, then per block #structs client clock and the structs (an info byte — content kind in the low five
 * bits, 0x80 origin, 0x40 right origin, 0x20 map key — and its fields), then the delete set: #clients, and per
 * client: client #ranges (clock length)…
 */
describe('an update Yjs decodes but that breaks it is refused, saying why', () => {
  const cases: { name: string; update: string; message: RegExp; harm: (update: Uint8Array) => unknown }[] = [
    {
      name: 'an origin at a later clock of its own client',
      update: '01 01 05 00  84 05 03 01 78  00', // item 5:0 "x" with origin 5:3
      message: /item 5:0 has origin 5:3, a clock its own client cannot have reached/,
      harm: (u) => expect(() => loaded(u)).toThrow(),
    },
    {
      name: 'a right origin at a later clock of its own client',
      update: '01 01 05 00  44 05 03 01 78  00', // item 5:0 "x" with right origin 5:3
      message: /item 5:0 has right origin 5:3/,
      harm: (u) => expect(() => loaded(u)).toThrow(),
    },
    {
      name: 'an item that is its own parent',
      update: '01 01 05 00  04 00 05 00 01 78  00', // item 5:0 "x" whose parent is the item 5:0
      message: /item 5:0 has parent 5:0/,
      harm: (u) => expect(() => loaded(u)).toThrow(),
    },
    {
      name: 'an item that is its own origin, after an item of the same client',
      update: '01 02 05 00  04 01 01 74 01 61  84 05 01 01 62  00', // "a" into root t, then item 5:1 "b" with origin 5:1
      message: /item 5:1 has origin 5:1/,
      harm: (u) => expect(() => loaded(u)).toThrow(),
    },
    {
      name: 'deleted content of length 0',
      update: '01 01 05 00  01 01 01 74 00  00',
      message: /struct 5:0 has length 0/,
      harm: (u) => expect(() => loaded(u)).toThrow('Unexpected case'),
    },
    {
      name: 'a GC of length 0, which the v2 encoder cannot write',
      update: '01 01 05 00  00 00  00',
      message: /struct 5:0 has length 0/,
      harm: (u) => expect(() => Y.encodeStateAsUpdateV2(loaded(u))).toThrow('Unexpected case'),
    },
    {
      name: 'an empty string followed by an item of the same client',
      update: '01 02 05 00  04 01 01 74 00  84 05 00 01 61  00', // "" into root t, then item 5:0 "a" after 5:0
      message: /struct 5:0 has length 0/,
      harm: (u) => expect(() => loaded(u)).toThrow(),
    },
    {
      name: 'a deletion of length 0 past what the document holds',
      update: '00  01 05 01 03 00', // no structs; deletes 0 clocks of client 5 from clock 3
      message: /the deletion at 5:3 has length 0/,
      harm: (u) => expect(() => loaded(u)).toThrow('Unexpected case'),
    },
    {
      name: 'deletions out of clock order, which Yjs keeps pending at other clocks',
      update: '00  01 09 02 0a 02 05 01', // client 9: delete 10–11, then 5
      message: /the deletions of client 9 are not in clock order \(5 after 12\)/,
      harm: (u) => expect(textBothOrders(u, sixteenLetters)).toEqual(['abcdefghijmnop', 'abcdeghijmnop']),
    },
    {
      name: 'a delete set naming a client twice',
      update: '00  02 09 01 0a 02 09 01 05 01', // client 9: delete 10–11; client 9: delete 5
      message: /the delete set lists client 9 twice/,
      harm: (u) => expect(textBothOrders(u, sixteenLetters)).toEqual(['abcdefghijmnop', 'abcdeghijmnop']),
    },
    {
      name: 'two blocks of structs of one client, of which applying keeps the last and merging both',
      update: '02  01 05 00 04 01 01 74 02 61 62  01 05 02 84 05 01 02 63 64  00', // "ab" into t; "cd" after 5:1
      message: /client 5 has two blocks of structs/,
      harm: (u) => {
        expect(loaded(u).getText('t').toString()).toBe('')
        expect(loaded(Y.mergeUpdates([u, hex('00 00')])).getText('t').toString()).toBe('abcd')
      },
    },
    {
      name: 'a subdocument whose options set gcFilter, which breaks the first deletion once it is loaded',
      update: '01 01 05 00  29 01 01 6d 01 6b 01 73 76 01 08 6763 46696c746572 7d 01  00', // m.k = subdoc "s", { gcFilter: 1 }
      message: /item 5:0 holds a subdocument whose options set "gcFilter"/,
      harm: (u) => {
        const subdoc = loaded(u).getMap('m').get('k') as Y.Doc
        subdoc.load()
        subdoc.getText('x').insert(0, 'ab')
        expect(() => subdoc.getText('x').delete(0, 1)).toThrow('gcFilter is not a function')
      },
    },
    {
      name: 'a subdocument whose options set a guid, which v1 and v2 write back differently',
      update: '01 01 05 00  29 01 01 6d 01 6b 01 73 76 01 04 67756964 7d 05  00', // m.k = subdoc "s", { guid: 5 }
      message: /item 5:0 holds a subdocument whose options set "guid"/,
      harm: (u) => {
        const doc = loaded(u)
        const viaV2 = new Y.Doc()
        Y.applyUpdateV2(viaV2, Y.encodeStateAsUpdateV2(doc))
        expect((loaded(Y.encodeStateAsUpdate(doc)).getMap('m').get('k') as Y.Doc).guid).toBe('5')
        expect((viaV2.getMap('m').get('k') as Y.Doc).guid).toBe('')
      },
    },
    {
      name: 'clocks past 2^53, where they stop being exact',
      // a GC of 2^53 - 1 clocks, "ab" into t, then "c" with origin 5:2^53
      update: '01 03 05 00  00 ffffffffffffff0f  04 01 01 74 02 61 62  84 05 8080808080808010 01 63  00',
      message: /struct 5:0 ends past clock 1073741824/,
      harm: (u) => expect(() => loaded(u)).toThrow('Unexpected case'),
    },
    {
      name: 'a client id past 2^53, which becomes another client',
      update: '02  01 8180808080808010 00 04 01 01 74 02 61 62  01 8080808080808010 00 04 01 01 74 02 63 64  00',
      message: /client id 9007199254740992 is too large/,
      harm: (u) => expect(loaded(u).getText('t').toString()).toBe('cd'),
    },
  ]

  for (const { name, update, message, harm } of cases) {
    test(name, () => {
      const bytes = hex(update)
      expect(() => Y.decodeUpdate(bytes)).not.toThrow()
      harm(bytes)
      expect(refusal(bytes)).toMatch(message)
    })
  }
})

describe('other updates Yjs does not write are refused', () => {
  test('a clock past 2^30, which older lib0 v2 encoders compute in 32 bits', () => {
    expect(refusal(hex('01 01 05 ffffffff03  04 01 01 74 02 61 62  00'))).toMatch(/struct 5:1073741823 ends past clock 1073741824/)
    expect(refusal(hex('01 01 05 00  84 06 8080808004 01 61  00'))).toMatch(/origin 6:1073741824, past clock 1073741824/)
    expect(refusal(hex('00  01 05 01 ffffffff03 02'))).toMatch(/the deletion at 5:1073741823 ends past clock/)
  })

  test('overlapping deletions', () => {
    expect(refusal(hex('00  01 09 02 05 04 06 01'))).toMatch(/not in clock order \(6 after 9\)/)
  })

  test('empty structs of any kind', () => {
    expect(refusal(hex('01 02 05 00  04 01 01 74 01 61  0a 00  00'))).toMatch(/struct 5:1 has length 0/) // a skip
    expect(refusal(hex('01 01 05 00  08 01 01 74 00  00'))).toMatch(/struct 5:0 has length 0/) // no values
  })

  test('content, types and skips Yjs does not know', () => {
    expect(refusal(hex('01 01 05 00  0b 01 01 74  00'))).toMatch(/item 5:0 has content of unknown kind 11/)
    expect(refusal(hex('01 01 05 00  07 01 01 74 09  00'))).toMatch(/item 5:0 holds a Y type of unknown kind 9/)
    expect(refusal(hex('01 02 05 00  04 01 01 74 01 61  4a 02  00'))).toMatch(/struct 5:1 is a skip with flags set/)
  })

  test('subdocument options that are not an object', () => {
    expect(refusal(hex('01 01 05 00  29 01 01 6d 01 6b 01 73 7e  00'))).toMatch(/options are not an object/) // null
    expect(refusal(hex('01 01 05 00  29 01 01 6d 01 6b 01 73 75 00  00'))).toMatch(/options are not an object/) // []
  })

  test('undecodable content', () => {
    expect(refusal(hex('01 01 05 00  04 01 01 74 02 c3 28  00'))).toMatch(/not a valid Yjs update/) // not UTF-8
    expect(refusal(hex('01 01 05 00  05 01 01 74 01 7b  00'))).toMatch(/not a valid Yjs update/) // embed "{"
  })

  test('an update that ends early, even where the buffer under it goes on', () => {
    const whole = hex('01 01 05 00  04 01 01 74 05 68656c6c6f  00') // "hello" into root t
    expect(checkUpdate(whole).ok).toBe(true)
    expect(refusal(whole.subarray(0, whole.length - 3))).toMatch(/ends in the middle of a struct/)
  })
})

/** The update `edit` makes to `doc`. */
function editOf(doc: Y.Doc, edit: () => void): Uint8Array {
  const before = Y.encodeStateVector(doc)
  edit()
  return Y.encodeStateAsUpdate(doc, before)
}

function docOf(clientID: number): Y.Doc {
  const doc = new Y.Doc({ guid: `client-${clientID}` })
  doc.clientID = clientID
  return doc
}

function changesSomething(update: Uint8Array): boolean {
  const { structs, ds } = Y.decodeUpdate(update)
  return structs.length > 0 || ds.clients.size > 0
}

/**
 * Documents written by two clients, as the ordered updates a server gets: every content kind Yjs writes, and
 * deletions. Each edit of client 2 builds on client 1's edit of the same round but reaches the server first,
 * so it refers to clocks the server does not have yet. Besides, the whole document (holding GCs) and two of
 * client 1's updates merged (holding a skip) are logs of one update each.
 */
function validLogs(): Uint8Array[][] {
  const logs: Uint8Array[][] = []
  const written = (edits: ((doc: Y.Doc) => void)[]): void => {
    const a = docOf(1)
    const b = docOf(2)
    const log: Uint8Array[] = []
    for (const edit of edits) {
      const fromA = editOf(a, () => edit(a))
      Y.applyUpdate(b, fromA)
      const fromB = editOf(b, () => edit(b))
      Y.applyUpdate(a, fromB)
      log.push(fromB, fromA)
    }
    const [first, , third] = log.filter((_, i) => i % 2 === 1)
    logs.push(log.filter(changesSomething), [Y.encodeStateAsUpdate(a)], [Y.mergeUpdates([first!, third!])])
  }
  written([
    (doc) => doc.getText('t').insert(0, `hello ${doc.clientID}`),
    (doc) => doc.getText('t').format(0, 3, { bold: true }),
    (doc) => doc.getText('t').insertEmbed(2, { image: 'x.png' }),
    (doc) => doc.getText('t').delete(1, 2),
    (doc) => doc.getText('t').insert(1, '😀ü'),
  ])
  written([
    (doc) => doc.getMap('m').set(`k${doc.clientID}`, doc.clientID),
    (doc) => doc.getMap('m').set('bin', new Uint8Array([1, 2, 3])),
    (doc) => {
      const nested = new Y.Text()
      doc.getMap('m').set(`nested${doc.clientID}`, nested)
      nested.insert(0, 'abc')
    },
    (doc) => doc.getMap('m').delete('nested1'),
    (doc) => doc.getMap('m').set('sub', new Y.Doc({ guid: `sub-${doc.clientID}`, autoLoad: true, meta: { m: 1 } })),
  ])
  written([
    (doc) => doc.getArray('a').push([1, 'two', { three: [3] }, null, 2.5, 2 ** 40]),
    (doc) => doc.getArray('a').insert(1, [new Uint8Array([9])]),
    (doc) => {
      const nested = new Y.Array()
      doc.getArray('a').insert(0, [nested])
      nested.push(['x', 'y'])
    },
    (doc) => doc.getArray('a').delete(0, 2),
    (doc) => doc.getArray('a').insert(0, [new Y.Doc({ guid: `sub-a-${doc.clientID}` })]),
  ])
  written([
    (doc) => {
      const element = new Y.XmlElement('p')
      doc.getXmlFragment('x').insert(0, [element])
      element.setAttribute('class', 'c')
      element.insert(0, [new Y.XmlText('hi')])
    },
    (doc) => doc.getMap('hooks').set(`h${doc.clientID}`, new Y.XmlHook('hook')),
    (doc) => doc.getXmlFragment('x').delete(0, 1),
  ])
  return logs
}

describe('updates Yjs writes are accepted', () => {
  const logs = validLogs()

  test('every update of text, map, array and xml edits, deletions, subdocuments, GCs and skips', () => {
    const updates = logs.flat()
    const structs = updates.flatMap((u) => Y.decodeUpdate(u).structs)
    const kinds = new Set(structs.map((s) => (s instanceof Y.Item ? s.content.constructor : s.constructor)))
    const contentKinds = [Y.ContentString, Y.ContentFormat, Y.ContentEmbed, Y.ContentAny, Y.ContentBinary, Y.ContentType, Y.ContentDoc]
    for (const kind of [Y.GC, Y.Skip, Y.ContentDeleted, ...contentKinds]) expect(kinds).toContain(kind)
    for (const update of updates) expect(checkUpdate(update)).toEqual({ ok: true, empty: false })
  })

  test('an edit referring to another client\'s clocks the document lacks: Yjs keeps it pending', () => {
    const a = docOf(1)
    a.getText('t').insert(0, 'base')
    const b = docOf(2)
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const afterA = editOf(b, () => b.getText('t').insert(2, 'XY'))
    expect(checkUpdate(afterA)).toEqual({ ok: true, empty: false })
    expect(loaded(afterA).store.pendingStructs).not.toBeNull()
  })

  test('an update that changes nothing is empty', () => {
    expect(checkUpdate(Y.encodeStateAsUpdate(new Y.Doc()))).toEqual({ ok: true, empty: true })
    expect(checkUpdate(hex('01 01 05 00 0a 03 00'))).toEqual({ ok: true, empty: true }) // only a skip
  })

  test('legacy JSON content', () => {
    expect(checkUpdate(hex('01 01 05 00  02 01 01 61 02 01 31 09 756e646566696e6564  00'))).toEqual({ ok: true, empty: false })
  })
})

type ByteEdit = { op: 'set' | 'insert' | 'delete' | 'flip'; at: number; value: number }

function edited(update: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  const bytes = Array.from(update)
  for (const { op, at, value } of edits) {
    const i = at % (bytes.length + 1)
    const existing = Math.min(i, bytes.length - 1)
    if (op === 'insert' || bytes.length === 0) bytes.splice(i, 0, value)
    else if (op === 'set') bytes[existing] = value
    else if (op === 'delete') bytes.splice(existing, 1)
    else bytes[existing] = bytes[existing]! ^ (1 << (value % 8))
  }
  return Uint8Array.from(bytes)
}

/**
 * Whether `update` has structs at IDs that `before` has structs at. Yjs assumes that every update tells the
 * same of an ID; one telling otherwise (a forged history, such as a GC where the document has text) can break
 * Yjs, and only the document shows it, so such updates are outside what `checkUpdate` decides.
 */
function claimsKnownIds(update: Uint8Array, before: readonly Uint8Array[]): boolean {
  const claimed = (u: Uint8Array) => Y.decodeUpdate(u).structs.filter((struct) => !(struct instanceof Y.Skip))
  const known = before.flatMap(claimed)
  return claimed(update).some(({ id, length }) =>
    known.some((k) => k.id.client === id.client && k.id.clock < id.clock + length && id.clock < k.id.clock + k.length),
  )
}

/** Throws if some Yjs cannot load the document stored as `stored`, in order. */
function loadStored(stored: readonly Uint8Array[]): void {
  const doc = new Y.Doc()
  for (const update of stored) Y.applyUpdate(doc, update)
  Y.applyUpdate(new Y.Doc(), Y.encodeStateAsUpdate(doc))
  Y.applyUpdateV2(new Y.Doc(), Y.encodeStateAsUpdateV2(doc))
  // A client may get them in another order, and the server merges a short log instead of loading it.
  const reversed = new Y.Doc()
  for (const update of [...stored].reverse()) Y.applyUpdate(reversed, update)
  Y.applyUpdate(new Y.Doc(), Y.encodeStateAsUpdate(reversed))
  Y.applyUpdate(new Y.Doc(), Y.mergeUpdates([...stored]))
}

describe('properties', () => {
  const logs = validLogs()
  const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0x01, 0x0a, 0x7f, 0x80, 0x84, 0xff))
  const byteEdit = fc.record({ op: fc.constantFrom<ByteEdit['op']>('set', 'insert', 'delete', 'flip'), at: fc.nat(), value: byte })

  test('a valid update mutated at random bytes is refused, or the document stored with it loads', () => {
    const mutation = fc.record({ log: fc.nat(), at: fc.nat(), edits: fc.array(byteEdit, { minLength: 1, maxLength: 4 }) })
    fc.assert(
      fc.property(mutation, ({ log, at, edits }) => {
        const updates = logs[log % logs.length]!
        const index = at % updates.length
        const mutated = edited(updates[index]!, edits)
        if (!checkUpdate(mutated).ok) return
        const base = updates.slice(0, index)
        fc.pre(!claimsKnownIds(mutated, base))
        loadStored([...base, mutated])
      }),
      { numRuns: 10_000 },
    )
  })

  test('checkUpdate never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        checkUpdate(bytes)
      }),
      { numRuns: 20_000 },
    )
  })
})
