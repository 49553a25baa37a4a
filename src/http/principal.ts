import type { Context } from 'hono'
import { tokenOf, type DocAccessControl, type Principal } from '../auth/doc-access.js'
import { ApiError } from './api-error.js'

/** Each request's authentication, so that a route asking twice (access, then the subject) verifies its token once. */
const authenticated = new WeakMap<Request, ReturnType<DocAccessControl['authenticate']>>()

/** Who the request comes from, by its client token (`?token=` or `Authorization: Bearer`); 401 for a bad one. */
export async function principalOf(c: Context, access: DocAccessControl): Promise<Principal> {
  let authentication = authenticated.get(c.req.raw)
  if (!authentication) {
    authentication = access.authenticate(tokenOf(c.req.query('token'), c.req.header('authorization')))
    authenticated.set(c.req.raw, authentication)
  }
  const auth = await authentication
  if (!auth.ok) throw new ApiError(auth.status, auth.code, auth.message)
  return auth.principal
}

/** The subject (`sub`) of the request's client token; null for a request without one. */
export async function subjectOf(c: Context, access: DocAccessControl): Promise<string | null> {
  const principal = await principalOf(c, access)
  return principal.kind === 'client' ? principal.grant.sub : null
}
