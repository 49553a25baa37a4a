import { WebSocket } from 'ws'
import { answerChallenge, checkWelcome, type Challenge, type Hello } from '../../src/peer/handshake.js'
import { peerSocketUrl } from '../../src/peer/peer-path.js'
import { decodeChannelFrame, decodeHandshakeMessage, encodeHandshakeMessage, type ChannelFrame } from '../../src/protocol/peer-frames.js'

export interface Closed {
  code: number
  reason: string
}

const open = new Set<WebSocket>()

/**
 * A hand-driven dialer speaking the peer protocol with the node's own handshake functions, for what a
 * PeerNetwork never sends: malformed frames, silence, a socket that stops reading.
 */
export function rawPeer(nodeUrl: string, ids: { dialerId: string; acceptorId: string }, secret: string) {
  const ws = new WebSocket(peerSocketUrl(nodeUrl), { perMessageDeflate: false })
  open.add(ws)
  ws.on('close', () => open.delete(ws))
  const frames: ChannelFrame[] = []
  const key = Buffer.from(secret)
  let handshake: { challenge: Challenge; hello: Hello } | null = null
  let authenticatedOpen = false
  let settleAuthentication: (ok: boolean) => void = () => {}
  const authenticated = new Promise<boolean>((resolve) => (settleAuthentication = resolve))
  const closed = new Promise<Closed>((resolve) =>
    ws.on('close', (code, reason) => {
      settleAuthentication(false)
      resolve({ code, reason: reason.toString() })
    }),
  )
  ws.on('error', () => {})
  ws.on('message', (data: Buffer) => {
    if (authenticatedOpen) {
      frames.push(decodeChannelFrame(data))
      return
    }
    const message = decodeHandshakeMessage(data)
    if (message.type === 'challenge') {
      handshake = { challenge: message, hello: answerChallenge({ secret: key, ...ids, challenge: message }) }
      ws.send(encodeHandshakeMessage(handshake.hello))
    } else if (message.type === 'welcome' && handshake) {
      authenticatedOpen = checkWelcome({ secret: key, ...handshake, welcome: message }).ok
      settleAuthentication(authenticatedOpen)
    }
  })
  return { ws, frames, closed, authenticated }
}

export function terminateRawPeers(): void {
  for (const ws of open) ws.terminate()
  open.clear()
}
