import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  MalformedReplicationMessageError,
  decodeReplicationMessage,
  encodeReplicationMessage,
  type ReplicationMessage,
} from '../../src/protocol/replication-codec.js'

const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
const bytes = fc.uint8Array({ maxLength: 200 })
const session = fc.integer({ min: 0, max: 2 ** 32 - 1 })

const message: fc.Arbitrary<ReplicationMessage> = fc.oneof(
  fc.record({ type: fc.constant('updates' as const), updates: fc.array(fc.record({ name, update: bytes })) }),
  fc.record({ type: fc.constant('range' as const), session, payload: bytes }),
  fc.record({
    type: fc.constant('doc-request' as const),
    session,
    docs: fc.array(fc.record({ name, stateVector: bytes })),
  }),
  fc.record({
    type: fc.constant('doc-reply' as const),
    session,
    docs: fc.array(
      fc.oneof(
        fc.record({ name, holding: fc.constant('present' as const), update: bytes, stateVector: bytes }),
        fc.record({ name, holding: fc.constantFrom('absent' as const, 'deleted' as const) }),
      ),
    ),
  }),
  fc.record({ type: fc.constant('doc-fill' as const), session, docs: fc.array(fc.record({ name, update: bytes })) }),
  fc.record({ type: fc.constant('busy' as const), session }),
  fc.record({ type: fc.constant('awareness' as const), name, update: bytes }),
  fc.record({ type: fc.constant('hold-check' as const), check: session, docs: fc.array(fc.record({ name, snapshot: bytes })) }),
  fc.record({ type: fc.constant('hold-answer' as const), check: session, missing: fc.array(name) }),
)

describe('replication channel codec', () => {
  test('every message decodes to what was encoded', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeReplicationMessage(encodeReplicationMessage(m))).toEqual(m)
      }),
    )
  })

  test('truncation, trailing bytes and unknown types are refused with a dedicated error', () => {
    fc.assert(
      fc.property(message, fc.uint8Array({ minLength: 1, maxLength: 4 }), (m, extra) => {
        const encoded = encodeReplicationMessage(m)
        expect(() => decodeReplicationMessage(Uint8Array.of(...encoded, ...extra))).toThrow(MalformedReplicationMessageError)
        if (encoded.byteLength > 1) {
          expect(() => decodeReplicationMessage(encoded.subarray(0, encoded.byteLength - 1))).toThrow(
            MalformedReplicationMessageError,
          )
        }
      }),
    )
    expect(() => decodeReplicationMessage(Uint8Array.of(99))).toThrow(MalformedReplicationMessageError)
    const tooMany = encodeReplicationMessage({ type: 'hold-check', check: 1, docs: Array.from({ length: 1_001 }, (_, i) => ({ name: `d${i}`, snapshot: new Uint8Array(2) })) })
    expect(() => decodeReplicationMessage(tooMany)).toThrow(/1001 documents in one message/)
    expect(() => decodeReplicationMessage(new Uint8Array())).toThrow(MalformedReplicationMessageError)
  })

  test('random bytes never crash the decoder: they decode or throw its error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (random) => {
        try {
          decodeReplicationMessage(random)
        } catch (err) {
          expect(err).toBeInstanceOf(MalformedReplicationMessageError)
        }
      }),
    )
  })

  test('a message claiming more documents than allowed is refused before allocating them', () => {
    // type 0 (updates), then a count of 2^28 entries.
    expect(() => decodeReplicationMessage(Uint8Array.of(0, 0x80, 0x80, 0x80, 0x80, 0x01))).toThrow(/documents in one message/)
  })
})
