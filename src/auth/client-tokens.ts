import { readFileSync } from 'node:fs'
import { errors, importSPKI, jwtVerify, type JWTHeaderParameters } from 'jose'
import picomatch from 'picomatch'
import { z } from 'zod'

export type DocAccess = 'read' | 'write'

/** What a client token grants: the documents its globs match, to read or to write (write includes read). */
export interface ClientGrant {
  sub: string
  docs: string[]
  access: DocAccess
  /** When the token expires (its `exp`), in epoch ms: a session it opened ends then. */
  expiresAtMs: number
}

export type TokenCheck =
  | { ok: true; grant: ClientGrant }
  | { ok: false; reason: 'missing' | 'invalid' | 'expired'; message: string }

/** Where client tokens are checked: an HS256 secret, an Ed25519 public key (PEM, SPKI), or both. */
export interface ClientTokenKeys {
  hmacSecret?: string
  ed25519PublicKeyPath?: string
}

const claimsSchema = z.object({
  sub: z.string().min(1),
  docs: z.array(z.string().min(1)).max(100),
  access: z.enum(['read', 'write']),
  // Required: a client token that never expires would be a password.
  exp: z.number(),
})

type PublicKey = Awaited<ReturnType<typeof importSPKI>>
type VerifyKey = Uint8Array | PublicKey

/** Verifies client JWTs (`{sub, docs, access, exp}`) against the configured keys. */
export class ClientTokens {
  private constructor(private readonly keys: { HS256?: Uint8Array; EdDSA?: PublicKey }) {}

  /** Null when no key is configured: the node is then open to every client, as without access control. */
  static async load(keys: ClientTokenKeys): Promise<ClientTokens | null> {
    const hmac = keys.hmacSecret === undefined ? undefined : new TextEncoder().encode(keys.hmacSecret)
    const ed25519 =
      keys.ed25519PublicKeyPath === undefined
        ? undefined
        : await importSPKI(readFileSync(keys.ed25519PublicKeyPath, 'utf8'), 'EdDSA')
    if (!hmac && !ed25519) return null
    return new ClientTokens({ ...(hmac && { HS256: hmac }), ...(ed25519 && { EdDSA: ed25519 }) })
  }

  async verify(token: string | undefined): Promise<TokenCheck> {
    if (token === undefined || token === '') return { ok: false, reason: 'missing', message: 'a client token is required' }
    let payload: unknown
    try {
      ;({ payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        algorithms: Object.keys(this.keys),
      }))
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { ok: false, reason: 'expired', message: 'the client token has expired' }
      return { ok: false, reason: 'invalid', message: 'the client token is not valid' }
    }
    const claims = claimsSchema.safeParse(payload)
    if (!claims.success) {
      return { ok: false, reason: 'invalid', message: 'the client token lacks sub, docs, access or exp' }
    }
    const { sub, docs, access, exp } = claims.data
    return { ok: true, grant: { sub, docs, access, expiresAtMs: exp * 1000 } }
  }

  private keyFor(header: JWTHeaderParameters): VerifyKey {
    const key = this.keys[header.alg as keyof typeof this.keys]
    if (!key) throw new errors.JOSEAlgNotAllowed(`algorithm ${header.alg} is not accepted`)
    return key
  }
}

/** Whether `grant` covers `access` to document `name`: one of its globs matches (`*` within a path segment, `**` across). */
export function grantAllows(grant: ClientGrant, name: string, access: DocAccess): boolean {
  if (access === 'write' && grant.access !== 'write') return false
  return grant.docs.some((glob) => picomatch.isMatch(name, glob, { dot: true }))
}
