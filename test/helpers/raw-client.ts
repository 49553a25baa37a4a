import WebSocket from 'ws'

export interface Closed {
  code: number
  reason: string
}

/** A bare WebSocket to a node, for sending frames no stock provider would send. */
export async function rawConnect(httpUrl: string, path: string, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(httpUrl.replace(/^http/, 'ws') + path, options)
  const frames: Uint8Array[] = []
  ws.on('message', (data: Buffer) => frames.push(new Uint8Array(data)))
  const closed = new Promise<Closed>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
  })
  return { ws, frames, closed }
}
