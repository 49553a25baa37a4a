/** Longest request target (path and query) accepted, in bytes; a document name is at most 512 bytes of it. */
export const maxRequestTargetBytes = 8 * 1024

export type RequestTarget =
  | { ok: true; /** Percent-decoded. */ path: string; query: URLSearchParams }
  | { ok: false; message: string }

/**
 * Reads a request target in origin form (`/path?query`), the only form a node serves. Never throws: a
 * target that `new URL` would choke on, or read as naming another host (`//host/…`, `http://…`), is an
 * answer for the client, not an exception.
 */
export function parseRequestTarget(target: string | undefined): RequestTarget {
  if (target === undefined || target === '') return { ok: false, message: 'the request target is empty' }
  if (target.length > maxRequestTargetBytes) {
    return { ok: false, message: `the request target is over ${maxRequestTargetBytes} bytes` }
  }
  if (!target.startsWith('/') || target.startsWith('//')) {
    return { ok: false, message: 'the request target must be a path starting with a single /' }
  }
  const queryAt = target.search(/[?#]/)
  const rawPath = queryAt < 0 ? target : target.slice(0, queryAt)
  const rawQuery = queryAt < 0 || target[queryAt] === '#' ? '' : target.slice(queryAt + 1).split('#', 1)[0]!
  let path: string
  try {
    path = decodeURIComponent(rawPath)
  } catch {
    return { ok: false, message: 'the request path is not valid percent-encoding' }
  }
  return { ok: true, path, query: new URLSearchParams(rawQuery) }
}

/**
 * The request target of `request`, checked as `parseRequestTarget` does, and its Host header too: the
 * HTTP layer builds a URL of the two, and a Host that is not one (`[::1`) must be the client's error.
 */
export function checkRequest(request: { url?: string | undefined; headers: { host?: string | undefined } }): RequestTarget {
  const host = request.headers.host
  if (host !== undefined && !URL.canParse(`http://${host}/`)) return { ok: false, message: 'the Host header is not a host' }
  return parseRequestTarget(request.url)
}
