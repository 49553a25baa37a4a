import { createHash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import { ApiError } from './api-error.js'

const digest = (value: string) => createHash('sha256').update(value).digest()

/** Admin routes need `Authorization: Bearer <admin token>`: 401 without a token, 403 with a wrong one. */
export function requireAdmin(adminToken: string): MiddlewareHandler {
  const expected = digest(adminToken)
  return async (c, next) => {
    const header = c.req.header('authorization')
    const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header)
    if (!match) throw new ApiError(401, 'unauthorized', 'send the admin token as Authorization: Bearer <token>')
    // Compare digests: equal length, and no timing hint about the token.
    if (!timingSafeEqual(digest(match[1]!.trim()), expected)) throw new ApiError(403, 'forbidden', 'wrong admin token')
    await next()
  }
}
