import { randomUUID } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import { ApiError } from './api-error.js'

/** 1 to 128 visible ASCII characters: no spaces, no control characters, nothing a proxy might rewrite. */
const keyPattern = /^[\x21-\x7e]{1,128}$/

export interface RequestKeyEnv {
  Variables: { requestKey: string }
}

/**
 * The key of a write, as `c.get('requestKey')`: the client's `Idempotency-Key`, or a fresh one. Every
 * command of the request and every forward of it to the leader carry it, so that a retry of the request is
 * applied once. A key that is present but malformed (an empty one included) is 400 `invalid_idempotency_key`
 * here, before anything is proposed. Reads pass untouched.
 */
export const requestKey: MiddlewareHandler<RequestKeyEnv> = async (c, next) => {
  if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
    const key = c.req.header('idempotency-key')
    if (key !== undefined && !keyPattern.test(key)) {
      throw new ApiError(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1 to 128 visible ASCII characters')
    }
    c.set('requestKey', key ?? randomUUID())
  }
  await next()
}
