/** Longest document name, in UTF-8 bytes. */
export const maxDocNameBytes = 512

export type DocNameCheck = { ok: true; name: string } | { ok: false; message: string }

/**
 * Names no document may have: the node's own WebSocket endpoint, and the dot segments, which URL parsers
 * resolve away (`/v1/docs/%2E%2E` is `/v1/`), so such a document could be written but never read or deleted.
 */
const reservedNames = new Set(['_peer', '.', '..'])

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
