import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import type { Rng } from '../sim/rng.js'

/** Keeps every local document, and so every whole-state update, small. */
const maxUpdatesPerDoc = 200

type Edit = (rng: Rng, doc: Y.Doc) => void

function randomText(rng: Rng): string {
  const pieces = ['a', 'hello ', '\n', 'é', '😀', '\u0000', '\ud800', '中文', 'x'.repeat(40)]
  return Array.from({ length: 1 + rng.int(4) }, () => rng.pick(pieces)).join('')
}

function randomValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => rng.int(1_000_000) - 500_000,
    () => randomText(rng),
    () => null,
    () => true,
    () => rng.next(),
    () => ({ nested: [1, 'two', { three: null }] }),
    () => Uint8Array.of(1, 2, 3),
    () => 2 ** 53 + 2,
    () => new Y.Map(),
    () => new Y.Text('inner'),
    () => Y.Array.from([1, 2]),
    () => new Y.Doc({ guid: `sub-${rng.int(1000)}` }),
  ])()
}

const edits: Edit[] = [
  (rng, doc) => {
    const text = doc.getText(rng.pick(['body', 'x']))
    const format = rng.chance(0.3) ? { bold: true, href: randomText(rng) } : undefined
    text.insert(rng.int(text.length + 1), randomText(rng), format)
  },
  (rng, doc) => {
    const text = doc.getText(rng.pick(['body', 'x']))
    if (text.length > 0) text.delete(rng.int(text.length), 1 + rng.int(text.length))
  },
  (rng, doc) => {
    const text = doc.getText('body')
    if (text.length > 0) text.format(rng.int(text.length), 1 + rng.int(3), { italic: rng.chance(0.5) ? true : null })
  },
  (rng, doc) => {
    const text = doc.getText('body')
    text.insertEmbed(rng.int(text.length + 1), { image: randomText(rng) })
  },
  (rng, doc) => doc.getMap(rng.pick(['meta', 'x'])).set(randomText(rng).slice(0, 8), randomValue(rng)),
  (rng, doc) => {
    const keys = [...doc.getMap('meta').keys()]
    if (keys.length > 0) doc.getMap('meta').delete(rng.pick(keys))
  },
  (rng, doc) => {
    const list = doc.getArray('list')
    list.insert(rng.int(list.length + 1), Array.from({ length: 1 + rng.int(3) }, () => randomValue(rng)))
  },
  (rng, doc) => {
    const list = doc.getArray('list')
    if (list.length > 0) list.delete(rng.int(list.length), 1)
  },
  (rng, doc) => {
    const element = new Y.XmlElement(rng.pick(['p', 'h1', 'div']))
    element.setAttribute('class', randomText(rng))
    element.insert(0, [new Y.XmlText(randomText(rng))])
    const xml = doc.getXmlFragment('xml')
    xml.insert(rng.int(xml.length + 1), [element])
  },
]

/**
 * One random edit. Root `x` is a text in some documents and a map in others, which the node meets when their
 * updates reach one document; within one local document Yjs refuses the second kind, and the edit is skipped.
 */
function edit(rng: Rng, doc: Y.Doc): void {
  try {
    doc.transact(() => rng.pick(edits)(rng, doc))
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes('different constructor')) throw err
  }
}

interface LocalDoc {
  doc: Y.Doc
  /** The state vector as of the last update made from it. */
  sent: Uint8Array
  updates: number
}

/**
 * Valid Yjs updates, state vectors and awareness updates from a few local documents under random edits: the
 * raw material that mutations start from. Client ids come from the seeded PRNG, so a seed makes the same bytes.
 */
export class YjsCorpus {
  private readonly docs: LocalDoc[] = []

  constructor(private readonly rng: Rng) {
    for (let i = 0; i < 3; i++) this.docs.push({ doc: this.newDoc(), sent: new Uint8Array([0]), updates: 0 })
  }

  /** What a client would send after some edits, or its whole state; now and then an oddity a client could make. */
  update(): Uint8Array {
    const rng = this.rng
    const entry = rng.pick(this.docs)
    for (let i = 1 + rng.int(4); i > 0; i--) edit(rng, entry.doc)
    const delta = Y.encodeStateAsUpdate(entry.doc, entry.sent)
    entry.sent = Y.encodeStateVector(entry.doc)
    if (++entry.updates > maxUpdatesPerDoc) this.replace(entry)
    switch (rng.int(8)) {
      case 0:
        return Y.encodeStateAsUpdate(entry.doc)
      case 1:
        return Y.encodeStateAsUpdateV2(entry.doc)
      case 2:
        return Y.mergeUpdates([delta, Y.encodeStateAsUpdate(rng.pick(this.docs).doc)])
      case 3:
        return this.conflictingUpdate(entry.doc.clientID)
      default:
        return delta
    }
  }

  /** A state vector of one of the documents, or one with clients and clocks no document has. */
  stateVector(): Uint8Array {
    const rng = this.rng
    if (rng.chance(0.7)) return Y.encodeStateVector(rng.pick(this.docs).doc)
    const encoder = encoding.createEncoder()
    const count = rng.int(4)
    encoding.writeVarUint(encoder, count)
    for (let i = 0; i < count; i++) {
      encoding.writeVarUint(encoder, rng.pick([0, 1, rng.int(2 ** 32), 2 ** 53 - 1]))
      encoding.writeVarUint(encoder, rng.pick([0, 1, rng.int(1000), 2 ** 31, 2 ** 53 - 1]))
    }
    return encoding.toUint8Array(encoder)
  }

  /** An awareness update as y-protocols encodes it: client, clock and JSON state per entry. */
  awarenessUpdate(): Uint8Array {
    const rng = this.rng
    const encoder = encoding.createEncoder()
    const count = 1 + rng.int(3)
    encoding.writeVarUint(encoder, count)
    for (let i = 0; i < count; i++) {
      encoding.writeVarUint(encoder, rng.chance(0.5) ? rng.pick(this.docs).doc.clientID : rng.pick([0, rng.int(2 ** 32), 2 ** 53 - 1]))
      encoding.writeVarUint(encoder, rng.pick([0, 1, 2, rng.int(100), 2 ** 32]))
      const state = rng.pick([
        JSON.stringify({ user: { name: randomText(rng), color: '#ff0000' }, cursor: { anchor: rng.int(10) } }),
        'null',
        '{}',
        '"text"',
        '{"unterminated":',
        JSON.stringify({ big: 'x'.repeat(rng.int(5000)) }),
      ])
      encoding.writeVarString(encoder, state)
    }
    return encoding.toUint8Array(encoder)
  }

  /** Different content under a client id that another document already used: what a buggy or hostile client sends. */
  private conflictingUpdate(clientID: number): Uint8Array {
    const doc = this.newDoc(clientID)
    for (let i = 1 + this.rng.int(3); i > 0; i--) edit(this.rng, doc)
    const update = Y.encodeStateAsUpdate(doc)
    doc.destroy()
    return update
  }

  /** Starts a document afresh, so that updates stay small enough to send thousands of. */
  private replace(entry: LocalDoc): void {
    entry.doc.destroy()
    entry.doc = this.newDoc()
    entry.sent = new Uint8Array([0])
    entry.updates = 0
  }

  private newDoc(clientID = 1 + this.rng.int(2 ** 31)): Y.Doc {
    const doc = new Y.Doc({ guid: `fuzz-${clientID}` })
    doc.clientID = clientID
    return doc
  }
}
