import * as Y from 'yjs'

/** Writes a document whose body text is `text` through REST, as a new client would; the answer's status. */
export async function writeText(url: string, name: string, text: string, token?: string): Promise<number> {
  const doc = new Y.Doc()
  doc.getText('body').insert(0, text)
  const res = await fetch(`${url}/v1/docs/${encodeURIComponent(name)}/update`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...(token && { authorization: `Bearer ${token}` }) },
    body: Y.encodeStateAsUpdate(doc),
  })
  return res.status
}
