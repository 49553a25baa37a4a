import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Logger } from 'pino'
import type { DocStore } from '../docs/doc-store.js'
import { docNameFromRequestTarget } from '../docs/doc-name.js'
import type { Metrics } from '../metrics.js'
import { CloseCode, closeReason } from '../protocol/close-codes.js'
import { Room } from './room.js'
import { Session } from './session.js'
import type { DocAccess } from '../auth/client-tokens.js'

export interface SyncServerOptions {
  /** Largest frame accepted from a client; a larger one closes the connection with 1009. */
  maxMessageBytes: number
  maxBufferedBytes: number
  keepaliveIntervalMs: number
}

/** Accepts y-websocket connections at `/<doc-name>` and keeps one Room per document with connections. */
export class SyncServer {
  private readonly wss: WebSocketServer
  private readonly rooms = new Map<string, Room>()
  private readonly sessions = new Map<WebSocket, Session>()
  private readonly keepaliveTimer: NodeJS.Timeout
  private localAwarenessListener: (doc: string, update: Uint8Array) => void = () => {}

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
    })
    this.keepaliveTimer = setInterval(() => this.keepalive(), options.keepaliveIntervalMs)
    this.keepaliveTimer.unref()
  }

  get connectionCount(): number {
    return this.sessions.size
  }

  /** Opens a y-websocket session with `access`: a read-only one receives updates but may not send any. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, access: DocAccess): void {
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, request, access))
  }

  /** Awareness changes of this node's clients (cursors, presence), for the other nodes. */
  onLocalAwareness(listener: (doc: string, update: Uint8Array) => void): void {
    this.localAwarenessListener = listener
  }

  /** Awareness from another node's clients: shown to this node's clients of the document, if it has any. */
  applyPeerAwareness(doc: string, update: Uint8Array): void {
    this.rooms.get(doc)?.applyPeerAwareness(update)
  }

  /** Closes every connection on one document, e.g. when it is deleted. */
  closeDoc(name: string, code: number, reason: string): void {
    for (const [ws, session] of this.sessions) if (session.docName === name) ws.close(code, reason)
  }

  /** Closes every connection with 1001. Does not wait for their writes; DocStore.close does. */
  close(): void {
    clearInterval(this.keepaliveTimer)
    for (const ws of this.sessions.keys()) ws.close(CloseCode.goingAway, 'server shutting down')
    this.wss.close()
  }

  private accept(ws: WebSocket, request: IncomingMessage, access: DocAccess): void {
    const docName = docNameFromRequestTarget(request.url ?? '/')
    if (!docName.ok) {
      ws.close(CloseCode.invalidDocName, closeReason(docName.message))
      return
    }
    const room = this.roomFor(docName.name)
    const session = new Session(ws, room, docName.name, this.docs, this.log, {
      maxBufferedBytes: this.options.maxBufferedBytes,
      readOnly: access === 'read',
      onSlowClient: () => this.metrics.slowClientsDropped.inc(),
    })
    this.sessions.set(ws, session)
    this.metrics.connections.set(this.sessions.size)
    room.join(session)

    ws.on('message', (data: Buffer, isBinary) => session.handleFrame(data, isBinary))
    ws.on('pong', () => {
      session.alive = true
    })
    ws.on('error', (err) => this.log.debug({ err, doc: docName.name }, 'client socket error'))
    ws.on('close', () => {
      session.ended()
      this.sessions.delete(ws)
      this.metrics.connections.set(this.sessions.size)
      if (room.leave(session)) {
        room.destroy()
        this.rooms.delete(docName.name)
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
