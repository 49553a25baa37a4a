import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { WebSocket, WebSocketServer } from 'ws'
import {
  PeerChannel,
  encodeChannelFrame,
  maxPeerIdBytes,
  type ChannelFrame,
  type PeerChannelName,
} from '../protocol/peer-frames.js'
import { PeerCloseCode, isPeerRefusal } from '../protocol/close-codes.js'
import { answerUpgrade } from '../http/answer-upgrade.js'
import { checkTicket, createTicket, ticketHeader } from './handshake.js'
import { HandshakeSlots, addressKey, type HandshakeSource } from './handshake-slots.js'
import { PeerLink, type PeerLinkEvents, type PeerLinkOptions } from './link.js'
import { peerSocketUrl } from './peer-path.js'
import { defaultPeerTuning, redialDelayMs, type PeerTuning } from './peer-tuning.js'
import type { LinkState, LinkStateName } from './link-state.js'

export interface PeerNetworkOptions {
  selfId: string
  clusterSecret: string
  /**
   * The base URL (http or https) to dial to reach a peer, asked anew at every dial, so that a changed
   * member URL or a `--peer-route` override takes effect at the next reconnect. Undefined: do not dial
   * now; the peer may still dial this node.
   */
  urlOf(id: string): string | undefined
}

export type ChannelHandler = (from: string, payload: Uint8Array) => void

/** Everything this node keeps about one member of its peer set: its LinkState, and how its links are kept. */
interface PeerSlot extends Omit<LinkState, 'queuedBytes'> {
  readonly id: string
  /** The authenticated link in use. */
  link: PeerLink | null
  /** This node's own dial, until its handshake ends. */
  dialing: PeerLink | null
  redialTimer: NodeJS.Timeout | null
  /** Dials in a row that ended before authenticating; the backoff grows with it. */
  failedDials: number
}

/**
 * A node's links to its peers: at most one authenticated WebSocket per pair, carrying numbered channels.
 *
 * Both ends of a pair dial (so a pair links even when only one direction can connect), which can leave two
 * links when they dial at once. Both ends then keep the same one: the link dialed by the smaller id, or, if
 * one node dialed both, the newer.
 *
 * Delivery is best effort: a message for a peer without a link is dropped, not queued. Its users tolerate
 * loss — Raft retransmits, replication repairs by anti-entropy — and a queue for an absent peer would only
 * replay stale messages when it returns.
 */
export class PeerNetwork {
  private readonly tuning: PeerTuning
  private readonly linkOptions: PeerLinkOptions
  private readonly wss: WebSocketServer
  private readonly slots = new Map<string, PeerSlot>()
  private readonly handlers = new Map<number, { name: PeerChannelName; handle: ChannelHandler }>()
  /** Inbound links whose dialer has not authenticated yet, with the socket that holds their handshake slot. */
  private readonly pendingAccepts = new Map<PeerLink, Duplex>()
  private readonly handshakeSlots: HandshakeSlots<Duplex>
  /** Every link whose socket is not closed yet, including retired ones. */
  private readonly liveLinks = new Set<PeerLink>()
  private readonly linkEvents: PeerLinkEvents
  private readonly linkUpListeners: ((peer: string) => void)[] = []
  private readonly linkDownListeners: ((peer: string) => void)[] = []
  private closing: Promise<void> | null = null

  constructor(
    private readonly options: PeerNetworkOptions,
    private readonly log: Logger,
    tuning: Partial<PeerTuning> = {},
  ) {
    const idBytes = Buffer.byteLength(options.selfId, 'utf8')
    if (idBytes === 0 || idBytes > maxPeerIdBytes) throw new Error(`node id must be 1 to ${maxPeerIdBytes} bytes`)
    if (options.clusterSecret.length === 0) throw new Error('the cluster secret must not be empty')
    this.tuning = { ...defaultPeerTuning, ...tuning }
    this.linkOptions = {
      selfId: options.selfId,
      secret: Buffer.from(options.clusterSecret, 'utf8'),
      handshakeTimeoutMs: this.tuning.handshakeTimeoutMs,
      inboundHandshakeTimeoutMs: this.tuning.inboundHandshakeTimeoutMs,
      closeGraceMs: this.tuning.closeGraceMs,
      keepaliveIntervalMs: this.tuning.keepaliveIntervalMs,
      maxQueuedBytes: this.tuning.maxQueuedBytes,
    }
    this.handshakeSlots = new HandshakeSlots(this.tuning)
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.tuning.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    })
    this.linkEvents = {
      authenticated: (link) => this.linkAuthenticated(link),
      frame: (link, frame) => this.deliver(link, frame),
      closed: (link, code, reason) => this.linkClosed(link, code, reason),
    }
  }

  /** Registers the one consumer of a channel. Frames on a channel without a consumer are ignored. */
  on(channel: PeerChannelName, handle: ChannelHandler): void {
    const number = PeerChannel[channel]
    if (this.handlers.has(number)) throw new Error(`channel ${channel} already has a handler`)
    this.handlers.set(number, { name: channel, handle })
  }

  /** Called whenever a peer that had no link gets one. */
  onLinkUp(listener: (peer: string) => void): void {
    this.linkUpListeners.push(listener)
  }

  /** Called whenever a peer's link closes for another reason than being replaced by a newer one. */
  onLinkDown(listener: (peer: string) => void): void {
    this.linkDownListeners.push(listener)
  }

  /**
   * The peers to keep links with, and the only ones let in: the other members of the cluster. Links to
   * peers that left the set close; peers that joined it are dialed at once.
   */
  setPeers(ids: Iterable<string>): void {
    if (this.closing) return
    const wanted = new Set(ids)
    wanted.delete(this.options.selfId)
    for (const [id, slot] of this.slots) {
      if (wanted.has(id)) continue
      this.slots.delete(id)
      if (slot.redialTimer) clearTimeout(slot.redialTimer)
      // Retired links too: nothing more from this peer is delivered.
      for (const link of this.liveLinks) {
        if (link.peerId === id) link.close(PeerCloseCode.removed, 'no longer a peer')
      }
      this.log.info({ peer: id }, 'peer left the peer set')
    }
    for (const id of wanted) {
      if (this.slots.has(id)) continue
      const slot: PeerSlot = {
        id,
        link: null,
        dialing: null,
        redialTimer: null,
        failedDials: 0,
        state: 'down',
        since: Date.now(),
        sentBytes: 0,
        receivedBytes: 0,
        droppedMessages: 0,
        linksEstablished: 0,
        lastCloseReason: null,
        lastDialError: null,
      }
      this.slots.set(id, slot)
      this.dial(slot)
    }
  }

  /** Sends one message; false when it was dropped (see the class comment). */
  send(to: string, channel: PeerChannelName, payload: Uint8Array): boolean {
    const slot = this.slots.get(to)
    if (!slot) return false
    const link = slot.link
    if (link) {
      const frame = encodeChannelFrame(PeerChannel[channel], payload)
      if (frame.byteLength > this.tuning.maxFrameBytes) {
        this.log.warn({ peer: to, channel, bytes: frame.byteLength }, 'peer message over maxFrameBytes dropped')
      } else if (link.send(frame)) {
        slot.sentBytes += payload.byteLength
        return true
      }
    }
    slot.droppedMessages++
    return false
  }

  /**
   * Closes the peer's link with 4400, as when a channel's consumer throws: for a consumer that finds a message
   * unusable only later (after a timer or an await).
   */
  refuseMessage(peer: string, channel: PeerChannelName, reason: string): void {
    this.slots.get(peer)?.link?.close(PeerCloseCode.malformedFrame, badMessage(channel, reason))
  }

  /** Takes over an HTTP upgrade of a request to the peer path. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const grant = this.closing
      ? ({ ok: false, reason: 'node shutting down' } as const)
      : this.handshakeSlots.take(socket, this.sourceOf(request))
    if (!grant.ok) {
      // 503 before the upgrade, so that a refusal costs no WebSocket.
      answerUpgrade(socket, 503, 'unavailable', grant.reason)
      return
    }
    grant.replaces?.destroy()
    // Also frees the slot when ws refuses the upgrade itself and no link is made.
    socket.once('close', () => this.handshakeSlots.release(socket))
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      const link = PeerLink.accept(ws, (id) => this.slots.has(id), this.linkOptions, this.linkEvents)
      this.pendingAccepts.set(link, socket)
      this.track(link)
    })
  }

  /** The peers with an authenticated link right now. */
  connectedPeers(): string[] {
    return [...this.slots.values()].filter((slot) => slot.link !== null).map((slot) => slot.id)
  }

  linkStates(): Record<string, LinkState> {
    const states: Record<string, LinkState> = {}
    for (const slot of this.slots.values()) {
      // What is left once the link-keeping fields are taken out is the slot's LinkState.
      const { id, link, dialing, redialTimer, failedDials, ...state } = slot
      states[id] = { ...state, queuedBytes: link?.queuedBytes ?? 0 }
    }
    return states
  }

  /**
   * Closes every link with 1001 and stops dialing; resolves when every socket has closed (a link drops a socket
   * whose other end does not answer within closeGraceMs).
   */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      for (const slot of this.slots.values()) {
        if (slot.redialTimer) clearTimeout(slot.redialTimer)
      }
      this.slots.clear()
      const links = [...this.liveLinks]
      for (const link of links) link.close(PeerCloseCode.goingAway, 'node shutting down')
      await Promise.all(links.map((link) => link.socketClosed))
      this.wss.close()
    })())
  }

  private dial(slot: PeerSlot): void {
    if (slot.link || slot.dialing) return
    const nodeUrl = this.options.urlOf(slot.id)
    let ws: WebSocket
    try {
      if (nodeUrl === undefined) throw new Error('no URL known for this peer')
      const ticket = createTicket({
        secret: this.linkOptions.secret,
        dialerId: this.options.selfId,
        acceptorId: slot.id,
        issuedAtMs: Date.now(),
      })
      ws = new WebSocket(peerSocketUrl(nodeUrl), {
        perMessageDeflate: false,
        maxPayload: this.tuning.maxFrameBytes,
        followRedirects: false,
        headers: { [ticketHeader]: ticket },
      })
    } catch (err) {
      this.dialFailed(slot, (err as Error).message)
      return
    }
    const link = PeerLink.dial(ws, slot.id, this.linkOptions, this.linkEvents)
    slot.dialing = link
    this.track(link)
    this.updateState(slot)
  }

  private sourceOf(request: IncomingMessage): HandshakeSource {
    const ticket = request.headers[ticketHeader]
    const { secret, selfId } = this.linkOptions
    const member = typeof ticket === 'string' ? checkTicket({ secret, acceptorId: selfId, ticket, nowMs: Date.now() }) : null
    return member !== null && this.slots.has(member) ? { member } : { address: addressKey(request.socket.remoteAddress) }
  }

  /** Whether `link` was an inbound link still in its handshake; it no longer is, and its slot is free. */
  private endHandshake(link: PeerLink): boolean {
    const socket = this.pendingAccepts.get(link)
    if (!socket) return false
    this.pendingAccepts.delete(link)
    this.handshakeSlots.release(socket)
    return true
  }

  private track(link: PeerLink): void {
    this.liveLinks.add(link)
    void link.socketClosed.then(() => this.liveLinks.delete(link))
  }

  private dialFailed(slot: PeerSlot, reason: string, refused = false): void {
    // Logged when the reason changes, not at every retry of a peer that stays unreachable or refuses.
    if (reason !== slot.lastDialError) {
      if (refused) this.log.warn({ peer: slot.id, reason }, 'peer refused this node')
      else this.log.debug({ peer: slot.id, reason }, 'dial to peer failed')
    }
    slot.failedDials++
    slot.lastDialError = reason
    this.updateState(slot)
    this.scheduleRedial(slot)
  }

  private scheduleRedial(slot: PeerSlot): void {
    if (this.closing || slot.link || slot.dialing || slot.redialTimer) return
    const delayMs = redialDelayMs(slot.failedDials, this.tuning)
    slot.redialTimer = setTimeout(() => {
      slot.redialTimer = null
      this.dial(slot)
    }, delayMs)
    slot.redialTimer.unref()
  }

  private linkAuthenticated(link: PeerLink): void {
    this.endHandshake(link)
    const slot = this.slotOf(link)
    if (slot.dialing === link) slot.dialing = null
    const current = slot.link
    if (current) {
      const keep = this.preferredLink(current, link)
      const retire = keep === link ? current : link
      slot.link = keep
      const reason = `duplicate link; keeping the one dialed by ${this.dialerOf(keep)}`
      retire.retire(reason)
      this.log.debug({ peer: slot.id, reason }, 'peer link retired')
    } else {
      slot.link = link
      slot.linksEstablished++
      this.log.info({ peer: slot.id, dialedBy: this.dialerOf(link) }, 'peer link up')
    }
    slot.failedDials = 0
    slot.lastDialError = null
    if (slot.redialTimer) {
      clearTimeout(slot.redialTimer)
      slot.redialTimer = null
    }
    const wasDown = slot.state !== 'connected'
    this.updateState(slot)
    if (wasDown) for (const listener of this.linkUpListeners) listener(slot.id)
  }

  /** A link that can deliver always has a slot: leaving the peer set closes all of a peer's links first. */
  private slotOf(link: PeerLink): PeerSlot {
    const slot = link.peerId === null ? undefined : this.slots.get(link.peerId)
    if (!slot) throw new Error(`open peer link without a peer slot (${link.peerId})`)
    return slot
  }

  private dialerOf(link: PeerLink): string {
    return link.role === 'dialer' ? this.options.selfId : link.peerId!
  }

  /** The same choice on both ends of a pair, so that both keep the same link. */
  private preferredLink(current: PeerLink, candidate: PeerLink): PeerLink {
    const currentDialer = this.dialerOf(current)
    const candidateDialer = this.dialerOf(candidate)
    // One node dialed both: it found its old link dead, even if this end has not noticed yet.
    if (currentDialer === candidateDialer) return candidate
    return candidateDialer < currentDialer ? candidate : current
  }

  private deliver(link: PeerLink, frame: ChannelFrame): void {
    const slot = this.slotOf(link)
    slot.receivedBytes += frame.payload.byteLength
    const handler = this.handlers.get(frame.channel)
    if (!handler) return
    try {
      handler.handle(slot.id, frame.payload)
    } catch (err) {
      // A consumer that cannot use a message from an authenticated peer treats it as malformed.
      link.close(PeerCloseCode.malformedFrame, badMessage(handler.name, (err as Error).message))
    }
  }

  private linkClosed(link: PeerLink, code: number, reason: string): void {
    const peerId = link.peerId
    if (this.endHandshake(link)) {
      const level = isPeerRefusal(code) ? 'warn' : 'debug'
      this.log[level]({ code, reason }, 'inbound peer connection refused or dropped in handshake')
      return
    }
    const slot = peerId === null ? undefined : this.slots.get(peerId)
    if (!slot) return
    const description = `${code} ${reason}`
    if (slot.dialing === link) {
      slot.dialing = null
      this.dialFailed(slot, description, isPeerRefusal(code))
    } else if (slot.link === link) {
      slot.link = null
      slot.lastCloseReason = description
      // The peer retiring a duplicate is part of two nodes dialing at once, not an outage.
      const level = code === PeerCloseCode.duplicateLink ? 'debug' : 'info'
      this.log[level]({ peer: slot.id, code, reason }, 'peer link down')
      this.updateState(slot)
      this.scheduleRedial(slot)
      if (code !== PeerCloseCode.duplicateLink) for (const listener of this.linkDownListeners) listener(slot.id)
    }
  }

  private updateState(slot: PeerSlot): void {
    const state: LinkStateName = slot.link ? 'connected' : slot.dialing ? 'connecting' : 'down'
    if (state === slot.state) return
    slot.state = state
    slot.since = Date.now()
  }
}

const badMessage = (channel: PeerChannelName, reason: string) => `bad ${channel} message: ${reason}`
