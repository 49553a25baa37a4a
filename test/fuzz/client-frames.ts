import {
  encodeAwareness,
  encodeDurableQuery,
  encodeQueryAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '../../src/protocol/y-websocket.js'
import type { Rng } from '../sim/rng.js'
import { hex, mutate, randomBytes } from './bytes.js'
import type { YjsCorpus } from './yjs-corpus.js'

/** One WebSocket message from a client: binary, as y-websocket sends, or text, as it never does. */
export type ClientFrame = { binary: true; bytes: Uint8Array } | { binary: false; text: string }

/** A frame a stock provider (or syncmesh's client SDK) would send. */
export function validClientFrame(rng: Rng, corpus: YjsCorpus): Uint8Array {
  switch (rng.int(8)) {
    case 0:
      return encodeSyncStep1(corpus.stateVector())
    case 1:
      return encodeSyncStep2(corpus.update())
    case 2:
    case 3:
      return encodeSyncUpdate(corpus.update())
    case 4:
      return encodeAwareness(corpus.awarenessUpdate())
    case 5:
      return encodeQueryAwareness()
    case 6:
      return encodeDurableQuery(rng.pick([0, 1, rng.int(2 ** 32), 2 ** 53 - 1]), corpus.stateVector())
    default:
      // An unknown top-level type, which the protocol says to ignore.
      return Uint8Array.of(4 + rng.int(60), ...randomBytes(rng, 16))
  }
}

/** Valid framing around a mutated payload: gets past the codec to Yjs and the awareness protocol. */
function mutatedPayloadFrame(rng: Rng, corpus: YjsCorpus): Uint8Array {
  switch (rng.int(5)) {
    case 0:
      return encodeSyncStep1(mutate(rng, corpus.stateVector()))
    case 1:
      return encodeSyncStep2(mutate(rng, corpus.update()))
    case 2:
      return encodeSyncUpdate(mutate(rng, corpus.update()))
    case 3:
      return encodeAwareness(mutate(rng, corpus.awarenessUpdate()))
    default:
      return encodeDurableQuery(rng.int(100), mutate(rng, corpus.stateVector()))
  }
}

/** Several messages in one frame, as clients after y-websocket 3.x may send: whole, or mutated as one. */
function severalMessages(rng: Rng, corpus: YjsCorpus): Uint8Array {
  const messages = Array.from({ length: 2 + rng.int(rng.chance(0.1) ? 40 : 3) }, () => validClientFrame(rng, corpus))
  const frame = Buffer.concat(messages)
  return rng.chance(0.5) ? frame : mutate(rng, frame)
}

export function clientFrame(rng: Rng, corpus: YjsCorpus): ClientFrame {
  const kind = rng.next()
  if (kind < 0.05) return { binary: true, bytes: severalMessages(rng, corpus) }
  if (kind < 0.3) return { binary: true, bytes: validClientFrame(rng, corpus) }
  if (kind < 0.65) return { binary: true, bytes: mutatedPayloadFrame(rng, corpus) }
  if (kind < 0.85) return { binary: true, bytes: mutate(rng, validClientFrame(rng, corpus)) }
  if (kind < 0.95) return { binary: true, bytes: randomBytes(rng, 200) }
  return { binary: false, text: rng.pick(['hello', '{"type":"sync"}', '\u0000', '😀'.repeat(rng.int(50))]) }
}

export const describeFrame = (frame: ClientFrame): string =>
  frame.binary ? hex(frame.bytes) : `text:${JSON.stringify(frame.text)}`
