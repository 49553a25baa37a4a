import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { WebSocket } from 'ws'
import {
  PeerChannel,
  encodeChannelFrame,
  maxPeerIdBytes,
  type ChannelFrame,
  type PeerChannelName,
} from '../protocol/peer-frames.js'
import { PeerCloseCode, isPeerRefusal } from '../protocol/close-codes.js'
import { createTicket, signTicket, ticketHeader, ticketSignatureHeader, type KeyOf } from './handshake.js'
import { InboundHandshakes } from './inbound-handshakes.js'
import type { NodeIdentity } from './node-identity.js'
import { PeerKeys } from './peer-keys.js'
import { PeerLink, type PeerLinkEvents, type PeerLinkOptions } from './link.js'
import { peerSocketUrl } from './peer-path.js'
import { defaultPeerTuning, redialDelayMs, type PeerTuning } from './peer-tuning.js'
import type { LinkState, LinkStateName } from './link-state.js'

export interface PeerNetworkOptions {
  selfId: string
  clusterSecret: string
  /** This node's key pair, which it proves in every handshake with a peer that reads the proof. */
  identity: NodeIdentity
  /** The node key the metadata holds for a member; a peer claiming a member's id must prove that one. */
  keyOf: KeyOf
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
  private readonly inbound: InboundHandshakes
  private readonly slots = new Map<string, PeerSlot>()
  private readonly keys: PeerKeys
  private readonly handlers = new Map<number, { name: PeerChannelName; handle: ChannelHandler }>()
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
    this.keys = new PeerKeys(options.keyOf)
    this.linkOptions = {
      selfId: options.selfId,
      secret: Buffer.from(options.clusterSecret, 'utf8'),
      identity: options.identity,
      keyOf: this.keys.keyOf,
      handshakeTimeoutMs: this.tuning.handshakeTimeoutMs,
      inboundHandshakeTimeoutMs: this.tuning.inboundHandshakeTimeoutMs,
      closeGraceMs: this.tuning.closeGraceMs,
      keepaliveIntervalMs: this.tuning.keepaliveIntervalMs,
      maxQueuedBytes: this.tuning.maxQueuedBytes,
    }
    this.linkEvents = {
      authenticated: (link) => this.linkAuthenticated(link),
      frame: (link, frame) => this.deliver(link, frame),
      closed: (link, code, reason, byThisEnd) => this.linkClosed(link, code, reason, byThisEnd),
    }
    this.inbound = new InboundHandshakes(this.tuning, this.linkOptions, this.linkEvents, this.keys, (id) => this.slots.has(id))
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
    for (const id of wanted) this.keys.keyOf(id)
    for (const [id, slot] of this.slots) {
      if (wanted.has(id)) continue
      this.slots.delete(id)
      this.keys.forget(id)
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
    this.inbound.accept(request, socket, head, this.closing ? 'node shutting down' : null, (link) => this.track(link))
  }

  /** The node key a peer proved on the last link this node dialed to it, or null (see PeerKeys). */
  dialedKeyOf(peer: string): string | null {
    return this.keys.dialedKeyOf(peer)
  }

  /**
   * Cuts links whose peer proved another node key than the one now on record for it: after a key-less member's
   * key was recorded, a link that some other holder of the cluster secret made under its id must not stay.
   */
  recheckKeys(): void {
    for (const { id, link } of this.slots.values()) {
      const reason = link && this.keys.mismatch(id, link.peerKey)
      if (!link || !reason) continue
      this.log.warn({ peer: id, reason }, 'peer link cut: node key not the one on record')
      link.close(PeerCloseCode.authenticationFailed, reason)
    }
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

  /** Bytes handed to the peer's link and not yet taken by the kernel; 0 without a link. */
  queuedBytes(peer: string): number {
    return this.slots.get(peer)?.link?.queuedBytes ?? 0
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
      this.inbound.close()
    })())
  }

  /**
   * Dials the peer, unless a dial is under way or a link is up — except to a member without a key on record, whose
   * key is taken only from a link this node dialed (see PeerKeys): that is dialed even if its own dial came first.
   */
  private dial(slot: PeerSlot): void {
    if (slot.dialing || (slot.link && !this.keys.wantsDial(slot.id))) return
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
        headers: { [ticketHeader]: ticket, [ticketSignatureHeader]: signTicket(this.options.identity, ticket) },
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

  private track(link: PeerLink): void {
    this.liveLinks.add(link)
    void link.socketClosed.then(() => this.liveLinks.delete(link))
  }

  private dialFailed(slot: PeerSlot, reason: string, refused: 'by the peer' | 'by this node' | null = null): void {
    // Logged when the reason changes, not at every retry of a peer that stays unreachable or refuses.
    if (reason !== slot.lastDialError) {
      if (refused === 'by the peer') this.log.warn({ peer: slot.id, reason }, 'peer refused this node')
      else if (refused === 'by this node') this.log.warn({ peer: slot.id, reason }, 'this node refused the peer it dialed')
      else this.log.debug({ peer: slot.id, reason }, 'dial to peer failed')
    }
    slot.failedDials++
    slot.lastDialError = reason
    this.updateState(slot)
    this.scheduleRedial(slot)
  }

  private scheduleRedial(slot: PeerSlot): void {
    if (this.closing || (slot.link && !this.keys.wantsDial(slot.id)) || slot.dialing || slot.redialTimer) return
    const delayMs = redialDelayMs(slot.failedDials, this.tuning)
    slot.redialTimer = setTimeout(() => {
      slot.redialTimer = null
      this.dial(slot)
    }, delayMs)
    slot.redialTimer.unref()
  }

  private linkAuthenticated(link: PeerLink): void {
    this.inbound.end(link)
    const slot = this.slotOf(link)
    if (slot.dialing === link) slot.dialing = null
    if (link.role === 'dialer') this.keys.dialed(slot.id, link.peerKey)
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
    if (link.role === 'acceptor') this.dial(slot)
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

  private linkClosed(link: PeerLink, code: number, reason: string, byThisEnd: boolean): void {
    const peerId = link.peerId
    if (this.inbound.end(link)) {
      const level = isPeerRefusal(code) ? 'warn' : 'debug'
      this.log[level]({ code, reason }, 'inbound peer connection refused or dropped in handshake')
      return
    }
    const slot = peerId === null ? undefined : this.slots.get(peerId)
    if (!slot) return
    const description = `${code} ${reason}`
    if (slot.dialing === link) {
      slot.dialing = null
      this.dialFailed(slot, description, isPeerRefusal(code) ? (byThisEnd ? 'by this node' : 'by the peer') : null)
    } else if (slot.link === link) {
      slot.link = null
      slot.lastCloseReason = description
      // The peer retiring a duplicate is part of two nodes dialing at once, not an outage. A refusal of an open
      // link is about node keys: the dialer found this node's not the one on record, or recheckKeys cut it.
      const level = code === PeerCloseCode.duplicateLink ? 'debug' : isPeerRefusal(code) ? 'warn' : 'info'
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
