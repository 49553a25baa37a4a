import type { Rng } from '../sim/rng.js'
import { mutate, randomBytes } from './bytes.js'
import type { InputGenerator } from './fuzz-input.js'
import { tcpExchange } from './tcp.js'
import { docPath, oddTarget } from './targets.js'
import { upgradeRequest } from './ws-wire.js'

const oddHeaders = [
  'Sec-WebSocket-Version: 8\r\n',
  'Sec-WebSocket-Version: banana\r\n',
  'Sec-WebSocket-Key: short\r\n',
  'Sec-WebSocket-Protocol: \u0001,,;\r\n',
  'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=99; server_no_context_takeover=1\r\n',
  'Sec-WebSocket-Extensions: x-unknown, ,;;\r\n',
  'Upgrade: websocket\r\n',
  'Upgrade: h2c\r\n',
  'Connection: close\r\n',
  'Authorization: Bearer\r\n',
  'Authorization: Bearer \r\n',
  'Authorization: Basic Og==\r\n',
  'Authorization: Bearer eyJhbGciOiJub25lIn0.e30.\r\n',
  'Authorization: Bearer ' + 'x'.repeat(9000) + '\r\n',
  'Host: [::1\r\n',
  'Host: 127.0.0.1:99999\r\n',
  'Host:\r\n',
  'Content-Length: -1\r\n',
  'Content-Length: 99999999999999999999\r\n',
  'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n',
  'X-Folded: a\r\n b\r\n',
  'Bad Header: x\r\n',
  'X-Bytes: \u00ff\u00fe\r\n',
  'Origin: null\r\n',
  'X-Big: ' + 'y'.repeat(20_000) + '\r\n',
]

function headers(rng: Rng): string {
  return Array.from({ length: rng.int(4) }, () => rng.pick(oddHeaders)).join('')
}

function target(rng: Rng): string {
  return rng.chance(0.6) ? oddTarget(rng) : docPath(rng) + (rng.chance(0.3) ? `?token=${rng.pick(['', '%', 'x.y.z'])}` : '')
}

/** A request for HTTP's own parser, hono's router, or an upgrade that goes nowhere sensible. */
function request(rng: Rng): string {
  switch (rng.int(5)) {
    case 0:
    case 1:
      return upgradeRequest(target(rng), rng, headers(rng))
    case 2: {
      const method = rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE', 'get', 'BREW', 'PRI'])
      const version = rng.pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', ''])
      const body = rng.chance(0.3) ? 'Content-Length: 4\r\n\r\nabcd' : '\r\n'
      return `${method} ${target(rng)} ${version}\r\nHost: 127.0.0.1\r\n${headers(rng)}${body}`
    }
    case 3: {
      const chunk = rng.pick(['zz\r\n', 'ffffffffffffffff\r\n', '5\r\nab'])
      return `GET ${target(rng)} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}`
    }
    default:
      return 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
  }
}

/**
 * Bytes over bare TCP to the HTTP port: garbage, malformed requests and upgrades with odd request targets and
 * headers, sometimes mutated, sometimes cut short, sometimes dropped with a reset mid-request.
 */
export const rawHttpInput: InputGenerator = (rng) => {
  let bytes: Uint8Array = rng.chance(0.15) ? randomBytes(rng, 300) : Buffer.from(request(rng), 'latin1')
  if (rng.chance(0.2)) bytes = mutate(rng, bytes)
  if (rng.chance(0.1)) bytes = bytes.subarray(0, rng.int(bytes.byteLength))
  const reset = rng.chance(0.25)
  const waitMs = rng.pick([0, 30, 150])
  const text = Buffer.from(bytes).toString('latin1')
  const shown = text.length <= 2048 ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, 2048))}… (${text.length} bytes)`
  return {
    edge: 'raw-http',
    describe: `raw-http ${shown}${reset ? ' then a TCP reset' : ''} after ${waitMs} ms`,
    send: (target) => tcpExchange(target.port, { first: bytes, waitMs, reset }),
  }
}
