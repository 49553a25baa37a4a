/** Longest document name, in UTF-8 bytes. */
export const maxDocNameBytes = 512

export type DocNameCheck = { ok: true; name: string } | { ok: false; message: string }

export function checkDocName(name: string): DocNameCheck {
  if (name.length === 0) return { ok: false, message: 'document name is empty' }
  const bytes = Buffer.byteLength(name, 'utf8')
  if (bytes > maxDocNameBytes) {
    return { ok: false, message: `document name is ${bytes} bytes; the limit is ${maxDocNameBytes}` }
  }
  return { ok: true, name }
}

/** The document name of a WebSocket URL path: everything after the first `/`, percent-decoded. */
export function docNameFromPath(pathname: string): DocNameCheck {
  let name: string
  try {
    name = decodeURIComponent(pathname.slice(1))
  } catch {
    return { ok: false, message: 'document name is not valid percent-encoding' }
  }
  return checkDocName(name)
}
