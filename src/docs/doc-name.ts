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

/**
 * The document name of a WebSocket request target: the path after the first `/`, percent-decoded,
 * without the query string. Parsed by hand: URL parsing would read `//a` as a host.
 */
export function docNameFromRequestTarget(target: string): DocNameCheck {
  const path = target.split(/[?#]/, 1)[0]!
  let name: string
  try {
    name = decodeURIComponent(path.slice(1))
  } catch {
    return { ok: false, message: 'document name is not valid percent-encoding' }
  }
  return checkDocName(name)
}
