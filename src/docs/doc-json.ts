import * as Y from 'yjs'

export const rootKinds = ['text', 'map', 'array', 'xml'] as const
export type RootKind = (typeof rootKinds)[number]

const constructors = { text: Y.Text, map: Y.Map, array: Y.Array, xml: Y.XmlFragment } as const

/**
 * Guesses a root's kind from its content, for documents read without a schema: map entries mean a map;
 * list content of strings or formatting means text, of XML nodes an XML fragment, of anything else an array.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Yjs types every shared type as AbstractType<YEvent<any>>
export function inferRootKind(type: Y.AbstractType<Y.YEvent<any>>): RootKind {
  if (type._map.size > 0) return 'map'
  for (let item = type._start; item !== null; item = item.right) {
    const content = item.content
    if (content instanceof Y.ContentString || content instanceof Y.ContentFormat || content instanceof Y.ContentEmbed) {
      return 'text'
    }
    if (content instanceof Y.ContentType) {
      return content.type instanceof Y.XmlElement || content.type instanceof Y.XmlText ? 'xml' : 'array'
    }
    if (!(content instanceof Y.ContentDeleted)) return 'array'
  }
  return 'text'
}

/** The document as JSON: text and XML roots as strings, maps and arrays as their JSON. */
export function docToJson(doc: Y.Doc, kinds: Readonly<Record<string, RootKind>> = {}): Record<string, unknown> {
  const json: Record<string, unknown> = {}
  const names = new Set([...doc.share.keys(), ...Object.keys(kinds)])
  for (const name of names) {
    const kind = kinds[name] ?? inferRootKind(doc.share.get(name)!)
    const type = doc.get(name, constructors[kind])
    json[name] = kind === 'text' || kind === 'xml' ? type.toString() : type.toJSON()
  }
  return json
}
