/** Where document routes start, and what they may end with after the document's name. */
const docsPrefix = '/v1/docs/'
/** `/versions/<id>…`: any segment is taken for an id, so that a bad one is answered as such (400), not as another document. */
const docRoute = /^(.+?)(\/update|\/versions(?:\/[^/]+(?:\/update|\/restore|\/diff\/[^/]+)?)?)?$/

/**
 * The request target with a document name written with plain `/` (`/v1/docs/team/notes/update`) rewritten
 * to the one-segment form the routes match (`/v1/docs/team%2Fnotes/update`): in REST paths as in WebSocket
 * URLs, a name may be written either way. A route suffix ends the name (`/update`, `/versions`, `/versions/<id>`
 * and what follows it), so a document whose name ends with one is written with that `/` encoded. Any other target comes back as it was.
 */
export function withEncodedDocName(target: string): string {
  if (!target.startsWith(docsPrefix)) return target
  const queryAt = target.search(/[?#]/)
  const path = queryAt < 0 ? target : target.slice(0, queryAt)
  const match = docRoute.exec(path.slice(docsPrefix.length))
  if (!match) return target
  const name = match[1]!
  const suffix = match[2] ?? ''
  if (!name.includes('/')) return target
  return docsPrefix + name.replaceAll('/', '%2F') + suffix + (queryAt < 0 ? '' : target.slice(queryAt))
}
