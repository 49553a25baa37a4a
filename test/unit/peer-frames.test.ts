import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { describe, expect, test } from 'vitest'
import {
  HandshakeMessageType,
  MalformedPeerFrameError,
  decodeChannelFrame,
  decodeHandshakeMessage,
  encodeChannelFrame,
  encodeHandshakeMessage,
  maxPeerIdBytes,
  nonceBytes,
  proofBytes,
  type HandshakeMessage,
} from '../../src/protocol/peer-frames.js'

const nonce = fc.uint8Array({ minLength: nonceBytes, maxLength: nonceBytes })
const proof = fc.uint8Array({ minLength: proofBytes, maxLength: proofBytes })
const peerId = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
  .filter((id) => Buffer.byteLength(id, 'utf8') <= maxPeerIdBytes)

const handshakeMessage: fc.Arbitrary<HandshakeMessage> = fc.oneof(
  fc.record({ type: fc.constant('challenge' as const), nonce }),
  fc.record({ type: fc.constant('hello' as const), dialerId: peerId, acceptorId: peerId, nonce, proof }),
  fc.record({ type: fc.constant('welcome' as const), proof }),
)

const channel = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
const payload = fc.uint8Array({ maxLength: 300 })

function helloWith(fields: { dialerId?: Uint8Array; nonce?: Uint8Array; proof?: Uint8Array }): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, HandshakeMessageType.hello)
  encoding.writeVarUint8Array(encoder, fields.dialerId ?? new TextEncoder().encode('a'))
  encoding.writeVarString(encoder, 'b')
  encoding.writeVarUint8Array(encoder, fields.nonce ?? new Uint8Array(nonceBytes))
  encoding.writeVarUint8Array(encoder, fields.proof ?? new Uint8Array(proofBytes))
  return encoding.toUint8Array(encoder)
}

describe('handshake messages', () => {
  test('round-trip through encode and decode', () => {
    fc.assert(
      fc.property(handshakeMessage, (message) => {
        expect(decodeHandshakeMessage(encodeHandshakeMessage(message))).toEqual(message)
      }),
    )
  })

  test('a message cut anywhere is malformed, never a crash', () => {
    fc.assert(
      fc.property(handshakeMessage, fc.nat(), (message, cut) => {
        const frame = encodeHandshakeMessage(message)
        expect(() => decodeHandshakeMessage(frame.subarray(0, cut % frame.length))).toThrow(MalformedPeerFrameError)
      }),
    )
  })

  test('trailing bytes are malformed', () => {
    const frame = encodeHandshakeMessage({ type: 'welcome', proof: new Uint8Array(proofBytes) })
    expect(() => decodeHandshakeMessage(Uint8Array.of(...frame, 0))).toThrow(/trailing bytes/)
  })

  test('an unknown message type is malformed', () => {
    expect(() => decodeHandshakeMessage(Uint8Array.of(9))).toThrow(/unknown handshake message type 9/)
  })

  test('a nonce or proof of the wrong length is malformed', () => {
    expect(() => decodeHandshakeMessage(helloWith({ nonce: new Uint8Array(nonceBytes - 1) }))).toThrow(
      /nonce is 31 bytes; expected 32/,
    )
    expect(() => decodeHandshakeMessage(helloWith({ proof: new Uint8Array(proofBytes + 1) }))).toThrow(
      /proof is 33 bytes; expected 32/,
    )
  })

  test('an empty, oversized or non-UTF-8 node id is malformed', () => {
    expect(() => decodeHandshakeMessage(helloWith({ dialerId: new Uint8Array(0) }))).toThrow(/dialer id is 0 bytes/)
    const tooLong = new Uint8Array(maxPeerIdBytes + 1).fill(97)
    expect(() => decodeHandshakeMessage(helloWith({ dialerId: tooLong }))).toThrow(/dialer id is 257 bytes/)
    expect(() => decodeHandshakeMessage(helloWith({ dialerId: Uint8Array.of(0xc3) }))).toThrow(/not valid UTF-8/)
  })

  test('a byte-order mark is part of an id, not stripped', () => {
    const message: HandshakeMessage = {
      type: 'hello',
      dialerId: '\uFEFFa',
      acceptorId: 'b',
      nonce: new Uint8Array(nonceBytes),
      proof: new Uint8Array(proofBytes),
    }
    expect(decodeHandshakeMessage(encodeHandshakeMessage(message))).toEqual(message)
  })
})

describe('channel frames', () => {
  test('round-trip through encode and decode', () => {
    fc.assert(
      fc.property(channel, payload, (channelNumber, bytes) => {
        const frame = encodeChannelFrame(channelNumber, bytes)
        expect(decodeChannelFrame(frame)).toEqual({ channel: channelNumber, payload: bytes })
      }),
    )
  })

  test('a frame cut anywhere is malformed, never a crash', () => {
    fc.assert(
      fc.property(channel, payload, fc.nat(), (channelNumber, bytes, cut) => {
        const frame = encodeChannelFrame(channelNumber, bytes)
        expect(() => decodeChannelFrame(frame.subarray(0, cut % frame.length))).toThrow(MalformedPeerFrameError)
      }),
    )
  })

  test('trailing bytes and truncated varints are malformed', () => {
    expect(() => decodeChannelFrame(Uint8Array.of(0, 1, 7, 7))).toThrow(/trailing bytes/)
    expect(() => decodeChannelFrame(Uint8Array.of(0x80))).toThrow(/malformed peer frame/)
    expect(() => decodeChannelFrame(Uint8Array.of(0, 5, 1))).toThrow(/malformed peer frame/)
  })
})

describe('any bytes from the network', () => {
  test('decode or are malformed, never anything else', () => {
    const decodesOrIsMalformed = (decode: (frame: Uint8Array) => unknown, bytes: Uint8Array) => {
      try {
        decode(bytes)
      } catch (err) {
        expect(err).toBeInstanceOf(MalformedPeerFrameError)
      }
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        decodesOrIsMalformed(decodeChannelFrame, bytes)
        decodesOrIsMalformed(decodeHandshakeMessage, bytes)
      }),
    )
  })
})
