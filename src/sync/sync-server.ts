import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Logger } from 'pino'
import type { DocStore } from '../docs/doc-store.js'
import type { Metrics } from '../metrics.js'
import { CloseCode, closeReason } from '../protocol/close-codes.js'
import type { DocNameCheck } from '../docs/doc-name.js'
import type { DocAccess } from '../auth/client-tokens.js'
import { ClientSocket } from './client-socket.js'
import { Room } from './room.js'
import { Session, type SessionBudget } from './session.js'

/** What a client session is opened with, decided before the socket opens. */
export interface SessionGrant {
  /** An invalid name passes: the sync server closes that connection with its own code. */
  doc: DocNameCheck
  /** A read-only session receives updates but may not send any. */
  access: DocAccess
  /** When the client token that opened it expires; null for a session without one. */
  expiresAtMs: number | null
  /** The subject of that token; null for a session without one. */
  subject: string | null
}

export interface SyncServerOptions extends SessionBudget {
  /** Largest frame accepted from a client; a larger one closes the connection with 4413. */
  maxMessageBytes: number
  keepaliveIntervalMs: number
  /** Whether the document was deleted: a connection to it is closed 4410 at once, before it is served anything. */
  isDeleted(name: string): boolean
}

/** Accepts y-websocket connections at `/<doc-name>` and keeps one Room per document with connections. */
export class SyncServer {
  private readonly wss: WebSocketServer
  private readonly rooms = new Map<string, Room>()
  private readonly sessions = new Map<WebSocket, Session>()
  private readonly keepaliveTimer: NodeJS.Timeout
  private localAwarenessListener: (doc: string, update: Uint8Array) => void = () => {}
  private refusal: { code: number; reason: string } | null = null

  constructor(
    private readonly docs: DocStore,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly options: SyncServerOptions,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageBytes,
      // Compression costs CPU per message on every connection; Yjs updates are already compact.
      perMessageDeflate: false,
      clientTracking: false,
      WebSocket: ClientSocket,
    })
    this.keepaliveTimer = setInterval(() => this.keepalive(), options.keepaliveIntervalMs)
    this.keepaliveTimer.unref()
  }

  get connectionCount(): number {
    return this.sessions.size
  }

  /** Opens a y-websocket session as `grant` allows: a read-only one receives updates but may not send any. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, grant: SessionGrant): void {
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, grant))
  }

  /** Awareness changes of this node's clients (cursors, presence), for the other nodes. */
  onLocalAwareness(listener: (doc: string, update: Uint8Array) => void): void {
    this.localAwarenessListener = listener
  }

  /** Awareness from another node's clients: shown to this node's clients of the document, if it has any. */
  applyPeerAwareness(doc: string, update: Uint8Array): void {
    this.rooms.get(doc)?.applyPeerAwareness(update)
  }

  /** Whether any connection is open on the document. */
  hasDoc(name: string): boolean {
    return this.rooms.has(name)
  }

  /**
   * Closes every connection on one document, e.g. when it is deleted. The room is dropped at once, not when
   * its last socket has closed: a connection that comes meanwhile opens the document anew instead of being
   * served the old copy.
   */
  closeDoc(name: string, code: number, reason: string): void {
    const room = this.rooms.get(name)
    if (!room) return
    this.rooms.delete(name)
    for (const session of this.sessions.values()) if (session.docName === name) session.close(code, reason)
  }

  /** From now on, closes every new connection with `code` and `reason` as soon as it opens, before it is served anything. */
  refuseNew(code: number, reason: string): void {
    this.refusal = { code, reason }
  }

  /** Closes every open connection with `code` and `reason`. Does not wait for their writes; DocStore.close does. */
  closeAll(code: number, reason: string): void {
    for (const session of this.sessions.values()) session.close(code, reason)
  }

  /** Closes every connection with 1001. */
  close(): void {
    clearInterval(this.keepaliveTimer)
    this.closeAll(CloseCode.goingAway, 'server shutting down')
    this.wss.close()
  }

  private accept(ws: WebSocket, grant: SessionGrant): void {
    const doc = grant.doc
    // First of all: a protocol error (an unmasked frame, a reserved bit, a frame over the limit) is an
    // 'error' event, which without a listener would end the process.
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.metrics.clientCloses.inc({ reason: 'frame_too_large' })
        this.log.warn({ doc: doc.ok ? doc.name : undefined, limit: this.options.maxMessageBytes }, 'client frame over the frame limit; closed 4413')
      } else {
        this.log.debug({ err, doc: doc.ok ? doc.name : undefined }, 'client socket error')
      }
    })
    if (!doc.ok) {
      ws.close(CloseCode.invalidDocName, closeReason(doc.message))
      return
    }
    if (this.refusal) {
      ws.close(this.refusal.code, closeReason(this.refusal.reason))
      return
    }
    const name = doc.name
    if (this.options.isDeleted(name)) {
      ws.close(CloseCode.deleted, 'document deleted')
      return
    }
    const room = this.roomFor(name)
    const session = new Session(ws, room, name, this.docs, this.log, {
      ...this.options,
      readOnly: grant.access === 'read',
      expiresAtMs: grant.expiresAtMs,
      editor: grant.subject,
      onBudgetClose: (reason) => {
        this.metrics.clientCloses.inc({ reason })
        if (reason === 'slow_client') this.metrics.slowClientsDropped.inc()
      },
    })
    this.sessions.set(ws, session)
    this.metrics.connections.set(this.sessions.size)
    room.join(session)

    ws.on('message', (data: Buffer, isBinary) => {
      try {
        session.handleFrame(data, isBinary)
      } catch (err) {
        this.log.error({ err, doc: name }, 'handling a client frame failed')
        session.close(CloseCode.internalError, 'internal error')
      }
    })
    ws.on('pong', () => {
      session.alive = true
    })
    ws.on('close', () => {
      session.ended()
      this.sessions.delete(ws)
      this.metrics.connections.set(this.sessions.size)
      if (room.leave(session)) {
        room.destroy()
        // A room closeDoc dropped may have a successor under the same name by now.
        if (this.rooms.get(name) === room) this.rooms.delete(name)
      }
    })
    session.start()
  }

  private roomFor(name: string): Room {
    let room = this.rooms.get(name)
    if (!room) {
      room = new Room(this.docs.open(name), (update) => this.localAwarenessListener(name, update))
      this.rooms.set(name, room)
    }
    return room
  }

  private keepalive(): void {
    for (const [ws, session] of this.sessions) {
      if (!session.alive) {
        ws.terminate()
        continue
      }
      session.alive = false
      ws.ping()
    }
  }
}
