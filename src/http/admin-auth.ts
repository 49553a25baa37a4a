import { createHash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import { ApiError } from './api-error.js'
import { bearerToken } from '../auth/bearer.js'

const digest = (value: string) => createHash('sha256').update(value).digest()

/** Whether a presented token is `secret`; compares digests: equal length, and no timing hint about the secret. */
export function secretMatcher(secret: string): (presented: string) => boolean {
  const expected = digest(secret)
  return (presented) => timingSafeEqual(digest(presented), expected)
}

/** Admin routes need `Authorization: Bearer <admin token>`: 401 without a token, 403 with a wrong one (a client token too). */
export function requireAdmin(adminToken: string): MiddlewareHandler {
  const isAdminToken = secretMatcher(adminToken)
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'))
    if (token === undefined) throw new ApiError(401, 'unauthorized', 'send the admin token as Authorization: Bearer <token>')
    if (!isAdminToken(token)) throw new ApiError(403, 'forbidden', 'wrong admin token')
    await next()
  }
}
