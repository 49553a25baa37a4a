import fc from 'fast-check'
import * as ws from 'ws'
import { expect, test } from 'vitest'
import { frameBinary } from '../../src/protocol/ws-frame.js'

// ws's own framing, the oracle: what ws.send(payload) writes from a server.
const { Sender } = ws as unknown as {
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] }
}
const wsFrame = (payload: Uint8Array) =>
  Buffer.concat(Sender.frame(Buffer.from(payload), { fin: true, opcode: 2, mask: false, readOnly: true, rsv1: false }))

test('a message framed once is byte for byte what ws.send writes, at every length class', () => {
  const lengths = fc.oneof(fc.nat(125), fc.integer({ min: 126, max: 65_535 }), fc.integer({ min: 65_536, max: 200_000 }))
  fc.assert(
    fc.property(lengths, fc.nat(255), (length, fill) => {
      const payload = new Uint8Array(length).fill(fill)
      const { wire, payload: kept } = frameBinary(payload)
      expect(wire.equals(wsFrame(payload))).toBe(true)
      expect(kept).toBe(payload)
    }),
    { numRuns: 60 },
  )
  for (const length of [0, 125, 126, 65_535, 65_536]) expect(frameBinary(new Uint8Array(length)).wire.equals(wsFrame(new Uint8Array(length)))).toBe(true)
})
