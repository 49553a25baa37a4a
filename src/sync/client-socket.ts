import type { Socket } from 'node:net'
import { WebSocket } from 'ws'
import { CloseCode, closeReason } from '../protocol/close-codes.js'
import type { FramedMessage } from '../protocol/ws-frame.js'

/** What ws keeps about the frame being read; not public API, hence read defensively. */
interface ReceiverState {
  _maxPayload?: number
  _totalPayloadLength?: number
}

/** What ws keeps about what it sends: a queue (and a state other than 0) only while compressing or reading a Blob. */
interface SenderState {
  _queue?: unknown[]
  _state?: number
}

/**
 * The node's end of a client connection. ws answers a frame over its `maxPayload` by closing with 1009
 * itself, before any listener hears of it; a client reads 1009 as "reconnect", sends the same frame again,
 * and loops forever. This socket closes with 4413 instead, whose reason names the size and the limit, so
 * that clients stop. The node never sends 1009 for any other reason.
 */
export class ClientSocket extends WebSocket {
  /**
   * Writes a message framed once for every member of a room: the bytes ws.send(payload) would write, without
   * framing them again for each socket. Only while ws's sender holds nothing back — it queues only to compress
   * (the node offers no compression) or to read a Blob (the node sends none); otherwise, ws.send.
   */
  sendFramed(message: FramedMessage): void {
    const socket = (this as unknown as { _socket?: Socket })._socket
    const sender = (this as unknown as { _sender?: SenderState })._sender
    if (this.readyState !== WebSocket.OPEN || !socket || sender?._state !== 0 || sender._queue?.length !== 0) {
      this.send(message.payload)
      return
    }
    socket.write(message.wire)
  }

  override close(code?: number, reason?: string | Buffer): void {
    if (code !== 1009) return super.close(code, reason)
    const receiver = (this as unknown as { _receiver?: ReceiverState })._receiver
    const limit = receiver?._maxPayload ?? 0
    const size = receiver?._totalPayloadLength ?? 0
    super.close(CloseCode.tooLarge, closeReason(`frame of ${size} bytes passes the limit of ${limit} bytes`))
  }
}
