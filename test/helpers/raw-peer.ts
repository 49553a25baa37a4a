import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket } from 'ws'
import { answerChallenge, checkWelcome, type Challenge, type Hello } from '../../src/peer/handshake.js'
import type { NodeIdentity } from '../../src/peer/node-identity.js'
import type { PeerNetwork } from '../../src/peer/peer-network.js'
import { peerSocketUrl } from '../../src/peer/peer-path.js'
import { decodeChannelFrame, decodeHandshakeMessage, encodeHandshakeMessage, type ChannelFrame } from '../../src/protocol/peer-frames.js'

export interface Closed {
  code: number
  reason: string
}

const open = new Set<WebSocket>()

/**
 * A hand-driven dialer speaking the peer protocol with the node's own handshake functions, for what a
 * PeerNetwork never sends: malformed frames, silence, a socket that stops reading. Without `identity` it
 * proves no node key, as a node of an earlier version; it takes any key the acceptor proves.
 */
export function rawPeer(nodeUrl: string, ids: { dialerId: string; acceptorId: string }, secret: string, identity?: NodeIdentity) {
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
      handshake = { challenge: message, hello: answerChallenge({ secret: key, ...ids, challenge: message, ...(identity && { identity }) }) }
      ws.send(encodeHandshakeMessage(handshake.hello))
    } else if (message.type === 'welcome' && handshake) {
      authenticatedOpen = checkWelcome({ secret: key, ...handshake, welcome: message, keyOf: () => undefined }).ok
      settleAuthentication(authenticatedOpen)
    }
  })
  return { ws, frames, closed, authenticated }
}

export function terminateRawPeers(): void {
  for (const ws of open) ws.terminate()
  open.clear()
}

/** A peer network's end of the peer path, on 127.0.0.1; `close` closes the network, then its server. */
export interface ServedPeerNetwork {
  url: string
  port: number
  close(): Promise<void>
}

/** Serves `network`'s peer path on a port of its own, for raw peers and other networks to dial. */
export async function servePeerNetwork(network: PeerNetwork): Promise<ServedPeerNetwork> {
  const server = createServer((_request, response) => response.writeHead(404).end())
  server.on('upgrade', (request, socket, head) => network.handleUpgrade(request, socket, head))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      await network.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
