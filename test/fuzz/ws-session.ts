import WebSocket from 'ws'
import { clientFrame, describeFrame, type ClientFrame } from './client-frames.js'
import { delay, type InputGenerator, type Target } from './fuzz-input.js'
import { docPath } from './targets.js'

/** Well-formed WebSocket messages to a document endpoint, carrying valid, mutated and random y-websocket frames. */
export const wsSessionInput: InputGenerator = (rng, corpus) => {
  const path = docPath(rng)
  const frames = Array.from({ length: 1 + rng.int(6) }, () => clientFrame(rng, corpus))
  const lingerMs = rng.pick([0, 20, 100])
  const ending = rng.pick(['close', 'terminate'] as const)
  return {
    edge: 'ws',
    describe: `ws ${path} frames=[${frames.map(describeFrame).join(', ')}] then ${ending} after ${lingerMs} ms`,
    send: (target) => session(target, path, frames, lingerMs, ending),
  }
}

async function session(
  target: Target,
  path: string,
  frames: ClientFrame[],
  lingerMs: number,
  ending: 'close' | 'terminate',
): Promise<void> {
  let ws: WebSocket
  try {
    ws = new WebSocket(`ws://127.0.0.1:${target.port}${path}`, { perMessageDeflate: false, handshakeTimeout: 1_000 })
  } catch {
    return
  }
  ws.on('error', () => {})
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
  const opened = new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true))
    void closed.then(() => resolve(false))
  })
  if (await opened) {
    for (const frame of frames) {
      if (ws.readyState !== WebSocket.OPEN) break
      ws.send(frame.binary ? frame.bytes : frame.text, { binary: frame.binary })
    }
    await Promise.race([closed, delay(lingerMs)])
  }
  if (ending === 'close') ws.close()
  else ws.terminate()
  await Promise.race([closed, delay(200)])
}
