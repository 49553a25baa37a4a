import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type { AccessDecision, DocAccessControl } from '../auth/doc-access.js'
import { tokenOf } from '../auth/doc-access.js'
import type { DocAccess } from '../auth/client-tokens.js'
import { docNameFromPath, type DocNameCheck } from '../docs/doc-name.js'
import type { SessionGrant } from '../sync/sync-server.js'
import { peerPath } from '../peer/peer-path.js'
import { answerUpgrade } from './answer-upgrade.js'
import { checkRequest } from './request-target.js'

export interface UpgradeTargets {
  access: DocAccessControl
  peers: { handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void }
  sync: { handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, grant: SessionGrant): void }
}

/**
 * Routes the HTTP server's WebSocket upgrades: `/_peer` to the peer network, every other path to a document
 * session once the request's token allows it. This is the error boundary of every upgrade: a malformed
 * request target is answered 400, a refusal 401/403, and anything that throws on the way 500 — each with
 * the REST API's JSON error body — and logged; the process goes on.
 */
export function routeUpgrades(server: Server, targets: UpgradeTargets, log: Logger): void {
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Kept for the socket's whole life: ws handles its own errors once it owns the socket, and a reset
    // from the client before then must not go unhandled.
    socket.on('error', () => socket.destroy())
    const failed = (err: unknown) => {
      log.error({ err, route: 'upgrade', target: request.url?.slice(0, 200) }, 'upgrade failed')
      answerUpgrade(socket, 500, 'internal', 'internal server error')
    }
    try {
      const target = checkRequest(request)
      if (!target.ok) return answerUpgrade(socket, 400, 'invalid_request_target', target.message)
      if (target.path === peerPath) return targets.peers.handleUpgrade(request, socket, head)
      const doc = docNameFromPath(target.path)
      decide(targets.access, tokenOf(target.query.get('token'), request.headers.authorization), doc)
        .then((decision) => {
          if (!decision.ok) return answerUpgrade(socket, decision.status, decision.code, decision.message)
          targets.sync.handleUpgrade(request, socket, head, { doc, access: decision.access, expiresAtMs: decision.expiresAtMs, subject: decision.subject })
        })
        .catch(failed)
    } catch (err) {
      failed(err)
    }
  })
}

async function decide(
  access: DocAccessControl,
  token: string | undefined,
  doc: DocNameCheck,
): Promise<(AccessDecision & { ok: false }) | { ok: true; access: DocAccess; expiresAtMs: number | null; subject: string | null }> {
  const auth = await access.authenticate(token)
  if (!auth.ok) return auth
  const client = auth.principal.kind === 'client' ? auth.principal.grant : null
  const granted = { expiresAtMs: client?.expiresAtMs ?? null, subject: client?.sub ?? null }
  if (!doc.ok) return { ok: true, access: 'read', ...granted }
  const decision = access.authorize(auth.principal, doc.name, 'read')
  return decision.ok ? { ...decision, ...granted } : decision
}
