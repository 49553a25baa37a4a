import type { Duplex } from 'node:stream'
import { errorBody } from './api-error.js'

const statusLine: Record<number, string> = {
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
}

/**
 * Answers an upgrade request that is not taken as the REST API answers errors — a status and the JSON error
 * body — on the raw socket, before any WebSocket exists; then closes it.
 */
export function answerUpgrade(socket: Duplex, status: keyof typeof statusLine, code: string, message: string): void {
  // A client that resets the connection while the answer goes out must not leave an unhandled 'error'.
  socket.on('error', () => socket.destroy())
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const body = JSON.stringify(errorBody(code, message))
  socket.end(
    `HTTP/1.1 ${statusLine[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}
