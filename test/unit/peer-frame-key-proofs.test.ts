import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  HandshakeMessageType,
  MalformedPeerFrameError,
  decodeHandshakeMessage,
  encodeHandshakeMessage,
  nodeKeyBytes,
  nodeSignatureBytes,
  nonceBytes,
  proofBytes,
  type HandshakeMessage,
} from '../../src/protocol/peer-frames.js'

const fixed = (length: number) => fc.uint8Array({ minLength: length, maxLength: length })
const peerId = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
const keyProof = fc.record({ publicKey: fixed(nodeKeyBytes), signature: fixed(nodeSignatureBytes) })
const signedHandshake: fc.Arbitrary<HandshakeMessage> = fc.oneof(
  fc.record({
    type: fc.constant('hello' as const),
    dialerId: peerId,
    acceptorId: peerId,
    nonce: fixed(nonceBytes),
    proof: fixed(proofBytes),
    keyProof,
  }),
  fc.record({ type: fc.constant('welcome' as const), proof: fixed(proofBytes), keyProof }),
)

/** A valid frame edited as a network or an attacker might: bytes changed, cut off, or added. */
const edited = fc
  .record({
    frame: signedHandshake.map(encodeHandshakeMessage),
    changes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    cutBytes: fc.oneof(fc.constant(0), fc.nat()),
    extra: fc.uint8Array({ maxLength: 4 }),
  })
  .map(({ frame, changes, cutBytes, extra }) => {
    const bytes = Uint8Array.from(frame)
    for (const [at, value] of changes) bytes[at % bytes.length] = value
    return Uint8Array.from([...bytes.subarray(0, bytes.length - (cutBytes % bytes.length)), ...extra])
  })

describe('handshake messages with a node-key proof', () => {
  test('round-trip through encode and decode, each as a type of its own', () => {
    fc.assert(
      fc.property(signedHandshake, (message) => {
        const frame = encodeHandshakeMessage(message)
        expect(frame[0]).toBe(message.type === 'hello' ? HandshakeMessageType.signedHello : HandshakeMessageType.signedWelcome)
        expect(decodeHandshakeMessage(frame)).toEqual(message)
      }),
    )
  })

  test('an edited frame decodes to a message that survives a round trip, or throws MalformedPeerFrameError', () => {
    fc.assert(
      fc.property(edited, (bytes) => {
        let message: HandshakeMessage
        try {
          message = decodeHandshakeMessage(bytes)
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedPeerFrameError)
          return
        }
        expect(decodeHandshakeMessage(encodeHandshakeMessage(message))).toEqual(message)
      }),
      { numRuns: 2_000 },
    )
  })

  test('a plain hello or welcome still decodes without a key proof, as a node of an earlier version sends it', () => {
    const plain = { type: 'welcome' as const, proof: new Uint8Array(proofBytes) }
    const frame = encodeHandshakeMessage(plain)
    expect(frame[0]).toBe(HandshakeMessageType.welcome)
    expect(decodeHandshakeMessage(frame)).toEqual(plain)
  })
})
