/** The request path of peer links on every node's HTTP port. */
export const peerPath = '/_peer'

/** Whether an upgrade request is a peer link rather than a client session on a document. */
export const isPeerRequestTarget = (target: string | undefined): boolean =>
  (target ?? '').split(/[?#]/, 1)[0] === peerPath

/** The WebSocket URL of the peer endpoint of the node at `nodeUrl` (http → ws, https → wss). Throws if invalid. */
export function peerSocketUrl(nodeUrl: string): string {
  const url = new URL(nodeUrl)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`not an http(s) URL: ${nodeUrl}`)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  url.pathname = url.pathname.replace(/\/$/, '') + peerPath
  url.search = ''
  url.hash = ''
  return url.toString()
}
