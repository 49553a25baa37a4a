/** Where document routes start, and what they may end with after the document's name. */
const docsPrefix = '/v1/docs/'
const docRouteSuffixes = ['/update']

/**
 * The request target with a document name written with plain `/` (`/v1/docs/team/notes/update`) rewritten
 * to the one-segment form the routes match (`/v1/docs/team%2Fnotes/update`): in REST paths as in WebSocket
 * URLs, a name may be written either way. A route suffix ends the name, so a document whose name ends with
 * `/update` is written with that `/` encoded. Any other target comes back as it was.
 */
export function withEncodedDocName(target: string): string {
  if (!target.startsWith(docsPrefix)) return target
  const queryAt = target.search(/[?#]/)
  const path = queryAt < 0 ? target : target.slice(0, queryAt)
  const rest = path.slice(docsPrefix.length)
  const suffix = docRouteSuffixes.find((s) => rest.endsWith(s) && rest.length > s.length) ?? ''
  const name = rest.slice(0, rest.length - suffix.length)
  if (!name.includes('/')) return target
  return docsPrefix + name.replaceAll('/', '%2F') + suffix + (queryAt < 0 ? '' : target.slice(queryAt))
}
