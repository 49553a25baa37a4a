import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { describe, expect, test } from 'vitest'
import {
  MalformedMessageError,
  decodeClientMessage,
  encodeAwareness,
  encodeDurableQuery,
  encodeQueryAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeSyncUpdate,
} from '../../src/protocol/y-websocket.js'

const bytes = fc.uint8Array({ maxLength: 300 })

describe('y-websocket codec', () => {
  test('every encoder round-trips through decodeClientMessage', () => {
    fc.assert(
      fc.property(bytes, (payload) => {
        expect(decodeClientMessage(encodeSyncStep1(payload))).toEqual({ type: 'sync-step1', stateVector: payload })
        expect(decodeClientMessage(encodeSyncStep2(payload))).toEqual({ type: 'sync-step2', update: payload })
        expect(decodeClientMessage(encodeSyncUpdate(payload))).toEqual({ type: 'sync-update', update: payload })
        expect(decodeClientMessage(encodeAwareness(payload))).toEqual({ type: 'awareness', update: payload })
      }),
    )
    expect(decodeClientMessage(encodeQueryAwareness())).toEqual({ type: 'query-awareness' })
  })

  test("syncmesh's durability query round-trips, and a cut one is malformed", () => {
    fc.assert(
      fc.property(fc.nat(), bytes, fc.nat(), (id, stateVector, cut) => {
        const frame = encodeDurableQuery(id, stateVector)
        expect(decodeClientMessage(frame)).toEqual({ type: 'durable-query', id, stateVector })
        expect(() => decodeClientMessage(frame.subarray(0, 1 + (cut % (frame.length - 1))))).toThrow(MalformedMessageError)
      }),
    )
  })

  test('a frame cut anywhere is malformed, never a crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), (payload, cut) => {
        const frame = encodeSyncUpdate(payload)
        const truncated = frame.subarray(0, cut % frame.length)
        expect(() => decodeClientMessage(truncated)).toThrow(MalformedMessageError)
      }),
    )
  })

  test('a truncated varint is malformed', () => {
    expect(() => decodeClientMessage(Uint8Array.of(0x80))).toThrow(MalformedMessageError)
    expect(() => decodeClientMessage(Uint8Array.of(0, 2, 0xff, 0xff))).toThrow(MalformedMessageError)
  })

  test('trailing bytes after a message are malformed', () => {
    const frame = encodeSyncStep1(Uint8Array.of(1, 2))
    expect(() => decodeClientMessage(Uint8Array.of(...frame, 7))).toThrow(/trailing bytes/)
  })

  test('an unknown sync sub-type is malformed', () => {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 0)
    encoding.writeVarUint(encoder, 9)
    encoding.writeVarUint8Array(encoder, Uint8Array.of(1))
    expect(() => decodeClientMessage(encoding.toUint8Array(encoder))).toThrow(/unknown sync message type 9/)
  })

  test('unknown top-level message types decode as unknown so that they can be ignored', () => {
    expect(decodeClientMessage(Uint8Array.of(2, 0, 0))).toEqual({ type: 'unknown', messageType: 2 })
    expect(decodeClientMessage(Uint8Array.of(100, 1, 2, 3))).toEqual({ type: 'unknown', messageType: 100 })
  })

  test('random bytes either decode or are malformed', () => {
    fc.assert(
      fc.property(bytes, (frame) => {
        try {
          decodeClientMessage(frame)
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedMessageError)
        }
      }),
    )
  })
})
