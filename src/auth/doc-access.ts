import { bearerToken } from './bearer.js'
import { grantAllows, type ClientGrant, type ClientTokens, type DocAccess } from './client-tokens.js'

/** Who a request comes from, as far as document access goes. */
export type Principal =
  /** The admin token, or any client of a node that requires no client tokens. */
  | { kind: 'everyone' }
  /** No token, where client tokens are required. */
  | { kind: 'anonymous' }
  | { kind: 'client'; grant: ClientGrant }

export type Refusal = { ok: false; status: 401 | 403; code: 'token_missing' | 'token_invalid' | 'token_expired' | 'forbidden'; message: string }

export type Authentication = { ok: true; principal: Principal } | Refusal

export type AccessDecision = { ok: true; access: DocAccess } | Refusal

/**
 * Who may read and write which documents: with no client-token key configured everyone may do anything; otherwise
 * a client JWT's globs and access decide, documents of a public-read namespace may be read without a token,
 * and the admin token may do anything.
 */
export class DocAccessControl {
  constructor(
    private readonly tokens: ClientTokens | null,
    private readonly isAdminToken: (token: string) => boolean,
    private readonly isPublicRead: (doc: string) => boolean,
  ) {}

  async authenticate(token: string | undefined): Promise<Authentication> {
    if (this.tokens === null || (token !== undefined && this.isAdminToken(token))) return { ok: true, principal: { kind: 'everyone' } }
    if (token === undefined || token === '') return { ok: true, principal: { kind: 'anonymous' } }
    const check = await this.tokens.verify(token)
    if (check.ok) return { ok: true, principal: { kind: 'client', grant: check.grant } }
    return { ok: false, status: 401, code: check.reason === 'expired' ? 'token_expired' : 'token_invalid', message: check.message }
  }

  /** The access `principal` has to document `doc`, if it covers `wanted` (write includes read). */
  authorize(principal: Principal, doc: string, wanted: DocAccess): AccessDecision {
    if (principal.kind === 'everyone') return { ok: true, access: 'write' }
    const granted: DocAccess | null =
      principal.kind === 'client' && grantAllows(principal.grant, doc, 'write')
        ? 'write'
        : (principal.kind === 'client' && grantAllows(principal.grant, doc, 'read')) || this.isPublicRead(doc)
          ? 'read'
          : null
    if (granted === 'write' || (granted === 'read' && wanted === 'read')) return { ok: true, access: granted }
    if (principal.kind === 'anonymous') return { ok: false, status: 401, code: 'token_missing', message: 'a client token is required' }
    return { ok: false, status: 403, code: 'forbidden', message: `the client token does not allow ${wanted} access to "${doc}"` }
  }
}

/** A client token as a stock y-websocket provider sends it (`?token=`), or as `Authorization: Bearer`. */
export function tokenOf(queryToken: string | null | undefined, authorization: string | undefined): string | undefined {
  return queryToken ?? bearerToken(authorization)
}
