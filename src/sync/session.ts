import * as Y from 'yjs'
import type WebSocket from 'ws'
import type { Logger } from 'pino'
import {
  MalformedMessageError,
  MessageTooLargeError,
  decodeClientFrame,
  decodeDurableQuery,
  encodeDurableAnswer,
  encodeSyncStep1,
  encodeSyncStep2,
  type ClientMessage,
  type DurableQuery,
} from '../protocol/y-websocket.js'
import type { ApplyResult, DocStore } from '../docs/doc-store.js'
import type { Room, RoomMember } from './room.js'
import type { EditedBy } from '../docs/edited-by.js'
import { ClientSocket } from './client-socket.js'
import type { FramedMessage } from '../protocol/ws-frame.js'
import { CloseCode, closeReason } from '../protocol/close-codes.js'
import { TokenBucket, type Rate } from './rate-limit.js'
import { DurableWait } from '../protocol/durable-wait.js'

/** What one connection may cost the node; passing a bound closes it with a code and a reason. */
export interface SessionBudget {
  /** A connection whose unsent bytes pass this bound is closed 1013; its provider reconnects and resyncs. */
  maxBufferedBytes: number
  /** Durability queries (type 64) waiting for their answer; one more closes the connection 1013. */
  maxDurableQueries: number
  /** Bytes of updates waiting to be made durable; past it the node stops reading the socket until they are. */
  maxPendingApplyBytes: number
  /** Messages in one frame. */
  maxMessagesPerFrame: number
  /** Messages and bytes a connection may send; null for no limit. Passing one closes it 1013 "rate limit". */
  messageRate: Rate | null
  byteRate: Rate | null
}

export type SessionCloseReason = 'slow_client' | 'durable_query_budget' | 'rate_limit' | 'token_expired'

export interface SessionOptions extends SessionBudget {
  /** The client may read only: an update that would change the document closes the session with 4403. */
  readOnly: boolean
  /** When the session's client token expires; the session is closed 4401 then. Null for none. */
  expiresAtMs: number | null
  /** The subject of the session's client token, null for none: who its edits are by (see edited-by.ts). */
  editor: string | null
  /** Told of every close for one of the reasons above, for the metrics. */
  onBudgetClose(reason: SessionCloseReason): void
}

/** Longest delay setTimeout keeps; a longer one fires at once. */
const maxTimerMs = 2 ** 31 - 1

/** One client connection on one document. */
export class Session implements RoomMember, EditedBy {
  /** Cleared on every ping and set by the pong; still clear at the next ping means the peer is gone. */
  alive = true
  private closed = false
  /** Durability queries not answered yet: how to stop waiting for each. */
  private readonly durableWaits = new Set<() => void>()
  private pendingApplyBytes = 0
  private readonly messages: TokenBucket | null
  private readonly bytes: TokenBucket | null
  private expiryTimer: NodeJS.Timeout | null = null

  readonly editor: string | null

  constructor(
    private readonly ws: WebSocket,
    private readonly room: Room,
    readonly docName: string,
    private readonly docs: DocStore,
    private readonly log: Logger,
    private readonly options: SessionOptions,
  ) {
    this.editor = options.editor
    const nowMs = Date.now()
    this.messages = options.messageRate && new TokenBucket(options.messageRate, nowMs)
    this.bytes = options.byteRate && new TokenBucket(options.byteRate, nowMs)
  }

  /** Greets the client with the stored document's state vector and the room's awareness. */
  start(): void {
    this.armExpiry()
    this.send(encodeSyncStep1(Y.encodeStateVector(this.room.doc)))
    const awareness = this.room.awarenessSnapshot()
    if (awareness) this.send(awareness)
  }

  send(frame: Uint8Array): void {
    if (this.canSend()) this.ws.send(frame)
  }

  /** Sends a message the room framed once for all its members. */
  sendFramed(message: FramedMessage): void {
    if (!this.canSend()) return
    if (this.ws instanceof ClientSocket) this.ws.sendFramed(message)
    else this.ws.send(message.payload)
  }

  private canSend(): boolean {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return false
    if (this.ws.bufferedAmount <= this.options.maxBufferedBytes) return true
    this.budgetClose('slow_client', CloseCode.tryAgainLater, `send buffer passed ${this.options.maxBufferedBytes} bytes; reconnect to resync`)
    return false
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
    if (this.expiryTimer) clearTimeout(this.expiryTimer)
    for (const stopWaiting of this.durableWaits) stopWaiting()
  }

  handleFrame(data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    if (!isBinary) {
      this.close(CloseCode.malformedMessage, 'text frames are not part of the y-websocket protocol')
      return
    }
    let messages: ClientMessage[]
    try {
      messages = decodeClientFrame(data, this.options.maxMessagesPerFrame)
    } catch (err) {
      this.close(CloseCode.malformedMessage, err instanceof MalformedMessageError ? err.message : 'malformed frame')
      return
    }
    const nowMs = Date.now()
    if (this.messages?.take(messages.length, nowMs) === false || this.bytes?.take(data.byteLength, nowMs) === false) {
      this.budgetClose('rate_limit', CloseCode.tryAgainLater, 'rate limit: too many messages or bytes per second; retry later')
      return
    }
    for (const message of messages) {
      if (this.closed) return
      this.handleMessage(message)
    }
  }

  private handleMessage(message: ClientMessage): void {
    switch (message.type) {
      case 'sync-step1':
        this.replyToStep1(message.stateVector)
        break
      case 'sync-step2':
      case 'sync-update':
        this.applyUpdate(message.update)
        break
      case 'awareness': {
        const verdict = this.room.applyClientAwareness(this, message.update)
        if (!verdict.ok) this.close(verdict.code, verdict.reason)
        break
      }
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

  /**
   * Hands the update to the store. A client that sends faster than updates become durable is not read
   * from until they are: the bytes waiting for a commit are bounded per connection, not by memory.
   */
  private applyUpdate(update: Uint8Array): void {
    if (this.options.readOnly) {
      // A stock provider sends its state in sync step 2 whatever its access; nothing new in it is no write.
      if (!this.room.holds(update)) this.close(CloseCode.forbidden, 'read-only access: this client may not change the document')
      return
    }
    this.pendingApplyBytes += update.byteLength
    if (this.pendingApplyBytes > this.options.maxPendingApplyBytes) this.ws.pause()
    this.docs.apply(this.docName, update, this).then(
      (result) => this.applied(update.byteLength, result),
      (err: unknown) => {
        this.log.error({ err, doc: this.docName }, 'applying a client update failed')
        this.applied(update.byteLength, { ok: false, reason: 'storage_failed', message: 'internal error' })
      },
    )
  }

  private applied(bytes: number, result: ApplyResult): void {
    this.pendingApplyBytes -= bytes
    if (this.ws.isPaused && this.pendingApplyBytes <= this.options.maxPendingApplyBytes / 2) this.ws.resume()
    if (result.ok) return
    this.log.warn({ doc: this.docName, reason: result.reason }, 'client update refused')
    this.close(closeCodeFor[result.reason], result.message)
  }

  /**
   * The room's document holds only what is durable (DocStore applies after the commit), so the query is
   * answered once it covers the asked state vector and delete set — at once, or after the updates still
   * being committed. Each check goes on from where the last one stopped (DurableWait).
   */
  private answerWhenDurable(id: number, query: Uint8Array): void {
    let wanted: DurableQuery
    try {
      wanted = decodeDurableQuery(query)
    } catch (err) {
      if (err instanceof MessageTooLargeError) this.close(CloseCode.tooLarge, err.message)
      else this.close(CloseCode.malformedMessage, 'durability query carries an invalid state vector or delete set')
      return
    }
    const wait = new DurableWait(wanted)
    if (wait.covered(this.room)) {
      this.send(encodeDurableAnswer(id))
      return
    }
    if (this.durableWaits.size >= this.options.maxDurableQueries) {
      const reason = `more than ${this.options.maxDurableQueries} durability queries outstanding; retry later`
      this.budgetClose('durable_query_budget', CloseCode.tryAgainLater, reason)
      return
    }
    const stopListening = this.room.onChange(() => {
      if (!wait.covered(this.room)) return
      stopWaiting()
      this.send(encodeDurableAnswer(id))
    })
    const stopWaiting = () => {
      stopListening()
      this.durableWaits.delete(stopWaiting)
    }
    this.durableWaits.add(stopWaiting)
  }

  /** Closes the session when its client token expires; the client fetches a fresh one and reconnects. */
  private armExpiry(): void {
    const { expiresAtMs } = this.options
    if (expiresAtMs === null) return
    const remainingMs = expiresAtMs - Date.now()
    if (remainingMs <= 0) {
      this.budgetClose('token_expired', CloseCode.tokenExpired, 'token expired')
      return
    }
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(remainingMs, maxTimerMs))
    this.expiryTimer.unref()
  }

  private budgetClose(reason: SessionCloseReason, code: number, text: string): void {
    this.options.onBudgetClose(reason)
    this.close(code, text)
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
  not_a_member: CloseCode.nodeRemoved,
}
