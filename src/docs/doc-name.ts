/** Longest document name, in UTF-8 bytes. */
export const maxDocNameBytes = 512

export type DocNameCheck = { ok: true; name: string } | { ok: false; message: string }

/** Paths of the node's own WebSocket endpoints, which no document may shadow. */
const reservedNames = new Set(['_peer'])

export function checkDocName(name: string): DocNameCheck {
  if (name.length === 0) return { ok: false, message: 'document name is empty' }
  if (reservedNames.has(name)) return { ok: false, message: `document name ${JSON.stringify(name)} is reserved` }
  const bytes = Buffer.byteLength(name, 'utf8')
  if (bytes > maxDocNameBytes) {
    return { ok: false, message: `document name is ${bytes} bytes; the limit is ${maxDocNameBytes}` }
  }
  return { ok: true, name }
}

/** The document name of a WebSocket request's (percent-decoded) path: everything after its leading `/`. */
export const docNameFromPath = (path: string): DocNameCheck => checkDocName(path.slice(1))
