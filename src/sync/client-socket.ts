import { WebSocket } from 'ws'
import { CloseCode, closeReason } from '../protocol/close-codes.js'

/** What ws keeps about the frame being read; not public API, hence read defensively. */
interface ReceiverState {
  _maxPayload?: number
  _totalPayloadLength?: number
}

/**
 * The node's end of a client connection. ws answers a frame over its `maxPayload` by closing with 1009
 * itself, before any listener hears of it; a client reads 1009 as "reconnect", sends the same frame again,
 * and loops forever. This socket closes with 4413 instead, whose reason names the size and the limit, so
 * that clients stop. The node never sends 1009 for any other reason.
 */
export class ClientSocket extends WebSocket {
  override close(code?: number, reason?: string | Buffer): void {
    if (code !== 1009) return super.close(code, reason)
    const receiver = (this as unknown as { _receiver?: ReceiverState })._receiver
    const limit = receiver?._maxPayload ?? 0
    const size = receiver?._totalPayloadLength ?? 0
    super.close(CloseCode.tooLarge, closeReason(`frame of ${size} bytes passes the limit of ${limit} bytes`))
  }
}
