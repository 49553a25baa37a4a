import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { tokenOf, type AccessDecision, type DocAccessControl } from '../auth/doc-access.js'
import { docNameFromRequestTarget } from '../docs/doc-name.js'

/**
 * Decides a WebSocket upgrade to a document before the socket opens: with read access the session is
 * read-only, without any the request is answered with an HTTP error. An invalid document name passes: the
 * sync server closes that connection with its own code.
 */
export async function decideUpgrade(access: DocAccessControl, request: IncomingMessage): Promise<AccessDecision> {
  const url = new URL(request.url ?? '/', 'http://localhost')
  const doc = docNameFromRequestTarget(request.url ?? '/')
  const auth = await access.authenticate(tokenOf(url, request.headers.authorization))
  if (!auth.ok) return auth
  return doc.ok ? access.authorize(auth.principal, doc.name, 'read') : { ok: true, access: 'read' }
}

/** Answers a refused upgrade as the REST API answers errors: a status and a JSON body. */
export function refuseUpgrade(socket: Duplex, refusal: Exclude<AccessDecision, { ok: true }>): void {
  const body = JSON.stringify({ error: { code: refusal.code, message: refusal.message } })
  const status = refusal.status === 401 ? '401 Unauthorized' : '403 Forbidden'
  socket.end(
    `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}
