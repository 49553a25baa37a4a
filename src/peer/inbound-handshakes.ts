import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import { answerUpgrade } from '../http/answer-upgrade.js'
import { checkTicket, identityHeader, ticketHeader, ticketSignatureHeader } from './handshake.js'
import { HandshakeSlots, addressKey, type HandshakeSource } from './handshake-slots.js'
import { PeerLink, type PeerLinkEvents, type PeerLinkOptions } from './link.js'
import type { PeerKeys } from './peer-keys.js'
import type { PeerTuning } from './peer-tuning.js'

/**
 * Peer sockets dialed in to this node, from their upgrade request until their dialer authenticates: the
 * handshake slot each may take (as a member that showed its ticket, or by its address: see HandshakeSlots),
 * the upgrade, and the acceptor's side of the link.
 */
export class InboundHandshakes {
  private readonly wss: WebSocketServer
  private readonly slots: HandshakeSlots<Duplex>
  /** Inbound links whose dialer has not authenticated yet, with the socket that holds their handshake slot. */
  private readonly pending = new Map<PeerLink, Duplex>()

  constructor(
    tuning: PeerTuning,
    private readonly linkOptions: PeerLinkOptions,
    private readonly linkEvents: PeerLinkEvents,
    private readonly keys: PeerKeys,
    private readonly isPeer: (id: string) => boolean,
  ) {
    this.slots = new HandshakeSlots(tuning)
    this.wss = new WebSocketServer({ noServer: true, maxPayload: tuning.maxFrameBytes, perMessageDeflate: false, clientTracking: false })
    // Tells the dialer that this node reads a signed hello (see answerChallenge).
    this.wss.on('headers', (headers) => headers.push(`${identityHeader}: 1`))
  }

  /**
   * Takes over an upgrade request; `accepted` gets the link once the socket is a WebSocket. With a `refusal`, or
   * without a free slot, the request is answered 503 before the upgrade, so that a refusal costs no WebSocket.
   */
  accept(request: IncomingMessage, socket: Duplex, head: Buffer, refusal: string | null, accepted: (link: PeerLink) => void): void {
    const grant = refusal === null ? this.slots.take(socket, this.sourceOf(request)) : ({ ok: false, reason: refusal } as const)
    if (!grant.ok) {
      answerUpgrade(socket, 503, 'unavailable', grant.reason)
      return
    }
    grant.replaces?.destroy()
    // Also frees the slot when ws refuses the upgrade itself and no link is made.
    socket.once('close', () => this.slots.release(socket))
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      const link = PeerLink.accept(ws, this.isPeer, this.linkOptions, this.linkEvents)
      this.pending.set(link, socket)
      accepted(link)
    })
  }

  /** Whether `link` was an inbound link still in its handshake; it no longer is, and its slot is free. */
  end(link: PeerLink): boolean {
    const socket = this.pending.get(link)
    if (!socket) return false
    this.pending.delete(link)
    this.slots.release(socket)
    return true
  }

  close(): void {
    this.wss.close()
  }

  private sourceOf(request: IncomingMessage): HandshakeSource {
    const anonymous = { address: addressKey(request.socket.remoteAddress) }
    const ticket = request.headers[ticketHeader]
    if (typeof ticket !== 'string') return anonymous
    const { secret, selfId } = this.linkOptions
    const member = checkTicket({ secret, acceptorId: selfId, ticket, nowMs: Date.now() })
    if (member === null || !this.isPeer(member)) return anonymous
    return this.keys.ticketAdmits(member, ticket, request.headers[ticketSignatureHeader]) ? { member } : anonymous
  }
}
