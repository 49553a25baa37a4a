import type { WebSocket } from 'ws'
import {
  decodeChannelFrame,
  decodeHandshakeMessage,
  encodeHandshakeMessage,
  type ChannelFrame,
  type HandshakeMessage,
} from '../protocol/peer-frames.js'
import { PeerCloseCode, closeReason } from '../protocol/close-codes.js'
import {
  answerChallenge,
  checkHello,
  checkWelcome,
  createChallenge,
  identityHeader,
  type Challenge,
  type Hello,
  type KeyOf,
} from './handshake.js'
import type { NodeIdentity } from './node-identity.js'

export interface PeerLinkOptions {
  selfId: string
  secret: Uint8Array
  identity: NodeIdentity
  /** Asked at each handshake, so that a key recorded meanwhile is the one checked. */
  keyOf: KeyOf
  /** A dial's, from the socket's creation: covers connecting, the upgrade and the handshake. */
  handshakeTimeoutMs: number
  /**
   * An inbound handshake's, from the challenge to the hello: a real dialer answers within a round trip, and
   * the slot an unauthenticated socket holds should be free again soon. Never longer than handshakeTimeoutMs,
   * which covers more.
   */
  inboundHandshakeTimeoutMs: number
  /** How long the other end has to answer a close; ws would wait 30 s, holding the socket that long. */
  closeGraceMs: number
  /** A ping goes out every interval; a link that answered nothing since the previous one is dead. */
  keepaliveIntervalMs: number
  /** Bound on bytes sent but not yet taken by the kernel; a send past it is dropped. */
  maxQueuedBytes: number
}

export interface PeerLinkEvents {
  authenticated(link: PeerLink): void
  frame(link: PeerLink, frame: ChannelFrame): void
  /**
   * Called once: when the link is closed from this end (except by `retire`), or else when its socket
   * closes. No frame is delivered after it.
   */
  closed(link: PeerLink, code: number, reason: string, byThisEnd: boolean): void
}

export type LinkRole = 'dialer' | 'acceptor'

type Phase =
  | { name: 'awaiting-challenge'; acceptorId: string }
  | { name: 'awaiting-hello'; challenge: Challenge; isPeer: (id: string) => boolean }
  | { name: 'awaiting-welcome'; challenge: Challenge; hello: Hello }
  | { name: 'open' }
  /** Closing, but still delivering what the peer sent before it saw the close. */
  | { name: 'draining' }
  | { name: 'closed' }

/**
 * One WebSocket to one peer, from either end: the handshake, then channel frames. Until the handshake
 * succeeds nothing but handshake messages is read; anything else closes the link. Every message is handled
 * synchronously in its 'message' event, because ws may emit several in one tick and the first frame after
 * the handshake can arrive in the same read as the handshake's last message.
 */
export class PeerLink {
  /** Resolves when the socket itself has closed, which may be later than `closed`. */
  readonly socketClosed: Promise<void>
  private phase: Phase
  private currentPeerId: string | null
  private provedKey: string | null = null
  /** A dialer's: whether the acceptor's upgrade answer said it reads a signed hello. */
  private acceptorReadsKeyProofs = false
  private answeredSinceLastPing = true
  private lastSocketError: string | null = null
  private readonly handshakeTimer: NodeJS.Timeout
  private keepaliveTimer: NodeJS.Timeout | null = null

  /** Dials `peerId` over `ws`, a client socket still connecting. */
  static dial(ws: WebSocket, peerId: string, options: PeerLinkOptions, events: PeerLinkEvents): PeerLink {
    const link = new PeerLink('dialer', ws, peerId, { name: 'awaiting-challenge', acceptorId: peerId }, options, events)
    ws.once('upgrade', (response) => {
      link.acceptorReadsKeyProofs = response.headers[identityHeader] === '1'
    })
    return link
  }

  /** Runs the acceptor's side over `ws`, an open server socket; `isPeer` decides whom to let in. */
  static accept(
    ws: WebSocket,
    isPeer: (id: string) => boolean,
    options: PeerLinkOptions,
    events: PeerLinkEvents,
  ): PeerLink {
    const challenge = createChallenge()
    const link = new PeerLink('acceptor', ws, null, { name: 'awaiting-hello', challenge, isPeer }, options, events)
    link.sendHandshake(challenge)
    return link
  }

  private constructor(
    readonly role: LinkRole,
    private readonly ws: WebSocket,
    peerId: string | null,
    phase: Phase,
    private readonly options: PeerLinkOptions,
    private readonly events: PeerLinkEvents,
  ) {
    this.currentPeerId = peerId
    this.phase = phase
    this.socketClosed = new Promise((resolve) => ws.once('close', () => resolve()))
    const timeoutMs =
      role === 'dialer' ? options.handshakeTimeoutMs : Math.min(options.handshakeTimeoutMs, options.inboundHandshakeTimeoutMs)
    this.handshakeTimer = setTimeout(
      () => this.close(PeerCloseCode.handshakeTimeout, `handshake did not finish within ${timeoutMs} ms`),
      timeoutMs,
    )
    this.handshakeTimer.unref()
    ws.on('message', (data: Buffer, isBinary) => this.receive(data, isBinary))
    ws.on('pong', () => {
      this.answeredSinceLastPing = true
    })
    ws.on('error', (err) => {
      this.lastSocketError = err.message
    })
    ws.on('close', (code, reason) => {
      this.finish(code, reason.toString() || this.lastSocketError || `connection closed (${code})`, false)
    })
  }

  /** The peer at the other end: known from the start when dialing, after the hello when accepting. */
  get peerId(): string | null {
    return this.currentPeerId
  }

  /** The node key the peer proved in the handshake; null for a peer of an earlier version, which proves none. */
  get peerKey(): string | null {
    return this.provedKey
  }

  /** Bytes handed to the socket and not yet taken by the kernel. */
  get queuedBytes(): number {
    return this.ws.bufferedAmount
  }

  /** Sends one encoded channel frame; false, and nothing sent, when the link is not open or the bound would pass. */
  send(frame: Uint8Array): boolean {
    if (this.phase.name !== 'open' || this.ws.readyState !== this.ws.OPEN) return false
    if (this.ws.bufferedAmount + frame.byteLength > this.options.maxQueuedBytes) return false
    this.ws.send(frame)
    return true
  }

  close(code: number, reason: string): void {
    if (this.phase.name === 'closed') return
    this.closeSocket(code, reason)
    this.finish(code, reason, true)
  }

  /**
   * Closes a link that another link to the same peer replaces. Frames the peer sent before it saw the close
   * are still delivered, so that switching links loses only what is sent while neither end has a link.
   */
  retire(reason: string): void {
    if (this.phase.name !== 'open') return
    this.phase = { name: 'draining' }
    this.closeSocket(PeerCloseCode.duplicateLink, reason)
  }

  /** Drops the connection without a closing handshake. */
  private terminate(reason: string): void {
    this.ws.terminate()
    this.finish(1006, reason, true)
  }

  /** Starts the closing handshake, and cuts the socket if the other end does not answer it in time. */
  private closeSocket(code: number, reason: string): void {
    this.ws.close(code, closeReason(reason))
    const cut = setTimeout(() => this.ws.terminate(), this.options.closeGraceMs)
    cut.unref()
    void this.socketClosed.then(() => clearTimeout(cut))
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.phase.name === 'closed') return
    if (!isBinary) {
      this.close(PeerCloseCode.malformedFrame, 'text frames are not part of the peer protocol')
      return
    }
    this.answeredSinceLastPing = true
    if (this.phase.name === 'open' || this.phase.name === 'draining') this.receiveChannelFrame(data)
    else this.receiveHandshakeMessage(data)
  }

  /** The decoded message, or undefined after closing the link as malformed. */
  private decodeOrClose<T>(decode: (data: Buffer) => T, data: Buffer): T | undefined {
    try {
      return decode(data)
    } catch (err) {
      this.close(PeerCloseCode.malformedFrame, (err as Error).message)
      return undefined
    }
  }

  private receiveChannelFrame(data: Buffer): void {
    const frame = this.decodeOrClose(decodeChannelFrame, data)
    if (frame) this.events.frame(this, frame)
  }

  private receiveHandshakeMessage(data: Buffer): void {
    const message = this.decodeOrClose(decodeHandshakeMessage, data)
    if (!message) return
    const phase = this.phase
    const { secret, selfId, identity, keyOf } = this.options
    if (phase.name === 'awaiting-challenge' && message.type === 'challenge') {
      // An acceptor with a key on record reads a signed hello, even where a proxy dropped the header that says so.
      const signs = this.acceptorReadsKeyProofs || keyOf(phase.acceptorId) !== undefined
      const hello = answerChallenge({
        secret,
        dialerId: selfId,
        acceptorId: phase.acceptorId,
        challenge: message,
        ...(signs && { identity }),
      })
      this.phase = { name: 'awaiting-welcome', challenge: message, hello }
      this.sendHandshake(hello)
    } else if (phase.name === 'awaiting-hello' && message.type === 'hello') {
      const { challenge, isPeer } = phase
      const check = checkHello({ secret, acceptorId: selfId, identity, challenge, hello: message, isPeer, keyOf })
      if (!check.ok) {
        this.close(check.code, check.reason)
        return
      }
      this.currentPeerId = check.dialerId
      this.provedKey = check.dialerKey
      this.sendHandshake(check.welcome)
      this.open()
    } else if (phase.name === 'awaiting-welcome' && message.type === 'welcome') {
      const check = checkWelcome({ secret, challenge: phase.challenge, hello: phase.hello, welcome: message, keyOf })
      if (!check.ok) {
        this.close(check.code, check.reason)
        return
      }
      this.provedKey = check.acceptorKey
      this.open()
    } else {
      this.close(PeerCloseCode.malformedFrame, `unexpected ${message.type} message in handshake phase ${phase.name}`)
    }
  }

  private sendHandshake(message: HandshakeMessage): void {
    this.ws.send(encodeHandshakeMessage(message))
  }

  private open(): void {
    clearTimeout(this.handshakeTimer)
    this.phase = { name: 'open' }
    this.keepaliveTimer = setInterval(() => this.keepalive(), this.options.keepaliveIntervalMs)
    this.keepaliveTimer.unref()
    this.events.authenticated(this)
  }

  private keepalive(): void {
    if (!this.answeredSinceLastPing) {
      this.terminate(`no answer to a ping within ${this.options.keepaliveIntervalMs} ms`)
      return
    }
    this.answeredSinceLastPing = false
    this.ws.ping()
  }

  private finish(code: number, reason: string, byThisEnd: boolean): void {
    if (this.phase.name === 'closed') return
    this.phase = { name: 'closed' }
    clearTimeout(this.handshakeTimer)
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer)
    this.events.closed(this, code, reason, byThisEnd)
  }
}
