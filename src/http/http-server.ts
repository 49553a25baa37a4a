import { createServer, type Server, type ServerResponse } from 'node:http'
import { getRequestListener } from '@hono/node-server'
import type { Logger } from 'pino'
import { errorBody } from './api-error.js'
import { checkRequest } from './request-target.js'
import { withEncodedDocName } from './doc-path.js'

/**
 * The node's HTTP server for `fetch` (the Hono app). In front of it: a request whose target or Host the
 * app could not read as a URL is answered 400 with the JSON error body, and a request that fails after
 * the app (a reset connection, a failing stream) is logged and answered 500 if it still can be.
 */
export function createHttpServer(fetch: (request: Request) => Response | Promise<Response>, log: Logger): Server {
  const listener = getRequestListener(fetch)
  // A socket that never finishes its request headers holds a file descriptor until this passes (60 s by default).
  return createServer({ headersTimeout: 10_000, requestTimeout: 60_000 }, (request, response) => {
    const target = checkRequest(request)
    if (!target.ok) return sendError(response, 400, 'invalid_request_target', target.message)
    request.url = withEncodedDocName(request.url!)
    listener(request, response).catch((err: unknown) => {
      log.error({ err, method: request.method, target: request.url?.slice(0, 200) }, 'request failed')
      if (response.headersSent) response.destroy()
      else sendError(response, 500, 'internal', 'internal server error')
    })
  })
}

function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify(errorBody(code, message))
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' })
  response.end(body)
}
