import { connect, type Socket } from 'node:net'
import { delay } from './fuzz-input.js'

export interface Exchange {
  /** Written on connect. */
  first: Uint8Array
  /** Written once the node's answer head (up to `\r\n\r\n`) has arrived, or after `waitMs` without one. */
  afterHead?: Uint8Array
  /** How long to wait for the node at each step before going on. */
  waitMs: number
  /** Drop the connection with a TCP reset instead of a FIN. */
  reset?: boolean
}

/** Bytes over a bare TCP connection to the node, for what no HTTP or WebSocket client would send. */
export async function tcpExchange(port: number, exchange: Exchange): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const head = answerHead(socket)
  await Promise.race([written(socket, exchange.first), closed])
  if (exchange.afterHead) {
    await Promise.race([head, closed, delay(exchange.waitMs)])
    if (!socket.destroyed) await Promise.race([written(socket, exchange.afterHead), closed])
  }
  await Promise.race([closed, delay(exchange.waitMs)])
  if (socket.destroyed) return
  if (exchange.reset) socket.resetAndDestroy()
  else socket.destroy()
}

/** Resolves once `bytes` are handed to the kernel: only then does dropping the connection not drop them too. */
function written(socket: Socket, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => socket.write(bytes, () => resolve()))
}

function answerHead(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    let received = ''
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if (!received.includes('\r\n\r\n')) return
      socket.off('data', onData)
      resolve()
    }
    socket.on('data', onData)
  })
}
