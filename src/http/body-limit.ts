import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { ApiError } from './api-error.js'

/**
 * hono's bodyLimit without its cost in the common case. It looks at `c.req.raw.body` first, which makes
 * @hono/node-server build a whole web Request and a stream for the body: more CPU than all the rest of a small
 * write. A body with a Content-Length and no Transfer-Encoding is checked by that header instead (Node's parser
 * hands over exactly that many bytes) and then read on node-server's direct path; any other goes through
 * bodyLimit, which counts the bytes as they come.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = (): never => {
    throw new ApiError(413, 'body_too_large', `request body is over ${maxBytes} bytes`)
  }
  const counted = bodyLimit({ maxSize: maxBytes, onError: tooLarge })
  return async (c, next) => {
    const length = c.req.header('content-length')
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return counted(c, next)
    if (Number(length) > maxBytes) tooLarge()
    await next()
  }
}
