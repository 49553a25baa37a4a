import * as Y from 'yjs'
import type WebSocket from 'ws'
import type { Logger } from 'pino'
import {
  MalformedMessageError,
  decodeClientMessage,
  encodeDurableAnswer,
  encodeSyncStep1,
  encodeSyncStep2,
} from '../protocol/y-websocket.js'
import type { ApplyResult, DocStore } from '../docs/doc-store.js'
import type { Room, RoomMember } from './room.js'
import { CloseCode, closeReason } from '../protocol/close-codes.js'

export interface SessionOptions {
  /** A connection whose unsent bytes pass this bound is closed; its provider reconnects and resyncs. */
  maxBufferedBytes: number
  /** The client may read only: an update that would change the document closes the session with 4403. */
  readOnly: boolean
  onSlowClient(): void
}

/** One client connection on one document. */
export class Session implements RoomMember {
  /** Cleared on every ping and set by the pong; still clear at the next ping means the peer is gone. */
  alive = true
  private closed = false
  /** Durability queries not answered yet: what each waits for, by client, and how to stop waiting. */
  private readonly durableWaits = new Set<() => void>()

  constructor(
    private readonly ws: WebSocket,
    private readonly room: Room,
    readonly docName: string,
    private readonly docs: DocStore,
    private readonly log: Logger,
    private readonly options: SessionOptions,
  ) {}

  /** Greets the client with the stored document's state vector and the room's awareness. */
  start(): void {
    this.send(encodeSyncStep1(Y.encodeStateVector(this.room.doc)))
    const awareness = this.room.awarenessSnapshot()
    if (awareness) this.send(awareness)
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return
    if (this.ws.bufferedAmount > this.options.maxBufferedBytes) {
      this.options.onSlowClient()
      this.close(CloseCode.tryAgainLater, `send buffer passed ${this.options.maxBufferedBytes} bytes; reconnect to resync`)
      return
    }
    this.ws.send(frame)
  }

  close(code: number, reason: string): void {
    if (this.closed) return
    this.ended()
    this.ws.close(code, closeReason(reason))
    // A peer that stopped reading may never take the close frame.
    setTimeout(() => this.ws.terminate(), 1_000).unref()
  }

  /** The socket is closed, by either end: nothing more is sent or awaited. */
  ended(): void {
    this.closed = true
    for (const stopWaiting of this.durableWaits) stopWaiting()
  }

  handleFrame(data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    if (!isBinary) {
      this.close(CloseCode.malformedMessage, 'text frames are not part of the y-websocket protocol')
      return
    }
    let message
    try {
      message = decodeClientMessage(data)
    } catch (err) {
      const reason = err instanceof MalformedMessageError ? err.message : 'malformed frame'
      this.close(CloseCode.malformedMessage, reason)
      return
    }
    switch (message.type) {
      case 'sync-step1':
        this.replyToStep1(message.stateVector)
        break
      case 'sync-step2':
      case 'sync-update':
        void this.applyUpdate(message.update)
        break
      case 'awareness':
        this.applyAwareness(message.update)
        break
      case 'durable-query':
        this.answerWhenDurable(message.id, message.stateVector)
        break
      case 'query-awareness': {
        const awareness = this.room.awarenessSnapshot()
        if (awareness) this.send(awareness)
        break
      }
      case 'unknown':
        break
    }
  }

  private replyToStep1(stateVector: Uint8Array): void {
    let update: Uint8Array
    try {
      update = Y.encodeStateAsUpdate(this.room.doc, stateVector)
    } catch {
      this.close(CloseCode.malformedMessage, 'sync step 1 carries an invalid state vector')
      return
    }
    this.send(encodeSyncStep2(update))
  }

  private async applyUpdate(update: Uint8Array): Promise<void> {
    if (this.options.readOnly) {
      // A stock provider sends its state in sync step 2 whatever its access; nothing new in it is no write.
      if (!this.holdsAlready(update)) this.close(CloseCode.forbidden, 'read-only access: this client may not change the document')
      return
    }
    const result = await this.docs.apply(this.docName, update, this)
    if (result.ok) return
    this.log.warn({ doc: this.docName, reason: result.reason }, 'client update refused')
    this.close(closeCodeFor[result.reason], result.message)
  }

  /**
   * The room's document holds only what is durable (DocStore applies after the commit), so the query is
   * answered once it covers the asked state vector — at once, or after the updates still being committed.
   */
  private answerWhenDurable(id: number, stateVector: Uint8Array): void {
    let wanted: Map<number, number>
    try {
      wanted = Y.decodeStateVector(stateVector)
    } catch {
      this.close(CloseCode.malformedMessage, 'durability query carries an invalid state vector')
      return
    }
    const doc = this.room.doc
    const covered = () => [...wanted].every(([client, clock]) => Y.getState(doc.store, client) >= clock)
    if (covered()) {
      this.send(encodeDurableAnswer(id))
      return
    }
    const onUpdate = () => {
      if (!covered()) return
      stopWaiting()
      this.send(encodeDurableAnswer(id))
    }
    const stopWaiting = () => {
      doc.off('update', onUpdate)
      this.durableWaits.delete(stopWaiting)
    }
    doc.on('update', onUpdate)
    this.durableWaits.add(stopWaiting)
  }

  private holdsAlready(update: Uint8Array): boolean {
    try {
      return Y.snapshotContainsUpdate(Y.snapshot(this.room.doc), update)
    } catch {
      return false
    }
  }

  private applyAwareness(update: Uint8Array): void {
    const verdict = this.room.applyClientAwareness(this, update)
    if (!verdict.ok) this.close(verdict.code, verdict.reason)
  }
}

const closeCodeFor: Record<Exclude<ApplyResult, { ok: true }>['reason'], number> = {
  invalid_update: CloseCode.invalidUpdate,
  storage_failed: CloseCode.internalError,
  shutting_down: CloseCode.goingAway,
  deleted: CloseCode.deleted,
  read_only: CloseCode.forbidden,
  undeclared_root: CloseCode.forbidden,
  wrong_root_kind: CloseCode.forbidden,
  update_too_large: CloseCode.tooLarge,
  doc_too_large: CloseCode.tooLarge,
}
