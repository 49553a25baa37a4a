import * as Y from 'yjs'
import { expect, test } from 'vitest'
import { docToJson } from '../../src/docs/doc-json.js'

function received(build: (doc: Y.Doc) => void): Y.Doc {
  const source = new Y.Doc()
  build(source)
  const doc = new Y.Doc()
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(source))
  return doc
}

test('root kinds are inferred from content when no types are given', () => {
  const doc = received((d) => {
    d.getText('body').insert(0, 'hello')
    d.getMap('meta').set('title', 'T')
    d.getArray('list').push([1, { a: 2 }])
    d.getXmlFragment('xml').insert(0, [new Y.XmlElement('p')])
  })
  expect(docToJson(doc)).toEqual({ body: 'hello', meta: { title: 'T' }, list: [1, { a: 2 }], xml: '<p></p>' })
})

test('declared types win and name roots that do not exist yet', () => {
  const doc = received((d) => d.getText('body').insert(0, 'x'))
  expect(docToJson(doc, { body: 'text', meta: 'map', items: 'array' })).toEqual({ body: 'x', meta: {}, items: [] })
})
