import type { Rng } from '../sim/rng.js'
import { hex, mutate, randomBytes } from './bytes.js'
import { validClientFrame } from './client-frames.js'
import type { InputGenerator } from './fuzz-input.js'
import { tcpExchange } from './tcp.js'
import { docPath, oddTarget } from './targets.js'

/** RFC 6455 frame fields, any of them possibly wrong. */
interface RawFrame {
  fin: boolean
  /** The three reserved bits, as a number 0–7; non-zero without an extension is a protocol error. */
  rsv: number
  opcode: number
  masked: boolean
  payload: Uint8Array
  /** The length the header claims, when it is not the payload's. */
  declaredLength?: bigint
  /** The 64-bit length field even for a short payload: a length not in its minimal form. */
  wideLength?: boolean
}

const Opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const

export function encodeFrame(rng: Rng, frame: RawFrame): Uint8Array {
  const length = frame.declaredLength ?? BigInt(frame.payload.byteLength)
  const header = [((frame.fin ? 1 : 0) << 7) | ((frame.rsv & 7) << 4) | (frame.opcode & 15)]
  const maskBit = frame.masked ? 0x80 : 0
  if (length < 126n && !frame.wideLength) header.push(maskBit | Number(length))
  else if (length < 65_536n && !frame.wideLength) header.push(maskBit | 126, Number(length >> 8n), Number(length & 0xffn))
  else {
    header.push(maskBit | 127)
    for (let shift = 56n; shift >= 0n; shift -= 8n) header.push(Number((length >> shift) & 0xffn))
  }
  const key = frame.masked ? Array.from({ length: 4 }, () => rng.int(256)) : []
  const body = frame.payload.map((byte, i) => (frame.masked ? byte ^ key[i % 4]! : byte))
  return Uint8Array.from([...header, ...key, ...body])
}

const badCloseCodes = [0, 999, 1004, 1005, 1006, 1015, 2000, 5000, 65535]
/** Bytes, a UTF-16 surrogate and a truncated sequence, none of them UTF-8. */
const notUtf8 = [Uint8Array.of(0xff, 0xfe), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xe2, 0x82)]
const closePayload = (code: number, reason: Uint8Array = new Uint8Array()) => Uint8Array.of(code >> 8, code & 0xff, ...reason)

/** One frame that breaks a rule of RFC 6455, or a valid one to go between them. */
function wireFrame(rng: Rng, payload: Uint8Array): RawFrame {
  const base: RawFrame = { fin: true, rsv: 0, opcode: Opcode.binary, masked: true, payload }
  switch (rng.int(14)) {
    case 0:
      return { ...base, masked: false }
    case 1:
      return { ...base, rsv: 1 + rng.int(7) }
    case 2:
      return { ...base, opcode: rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) }
    case 3:
      return { ...base, fin: false, opcode: rng.pick([Opcode.close, Opcode.ping, Opcode.pong]) }
    case 4:
      return { ...base, opcode: Opcode.ping, payload: new Uint8Array(126 + rng.int(100)) }
    case 5:
      // A 1-byte close payload, or a code no endpoint may send.
      return { ...base, opcode: Opcode.close, payload: rng.pick([Uint8Array.of(3), closePayload(rng.pick(badCloseCodes))]) }
    case 6:
      return { ...base, opcode: Opcode.close, payload: closePayload(1000, Uint8Array.of(0xc3, 0x28, 0xff)) }
    case 7:
      return { ...base, opcode: Opcode.text, payload: rng.pick(notUtf8) }
    case 8:
      return { ...base, opcode: Opcode.continuation }
    case 9:
      return { ...base, fin: false }
    case 10:
      return { ...base, declaredLength: rng.pick([2n ** 63n, 2n ** 64n - 1n, 2n ** 53n + 1n, 2n ** 31n, 300_000n, 70_000n]) }
    case 11:
      return { ...base, wideLength: true }
    default:
      return base
  }
}

/**
 * An upgrade to a document endpoint, then WebSocket frames that break the protocol at the byte level: unmasked,
 * reserved bits, reserved opcodes, fragmented or oversized control frames, bad close codes, lengths past any
 * limit. The frames go in the upgrade's own write (the server sees them in `head`) or after the 101.
 */
export const wsWireInput: InputGenerator = (rng, corpus) => {
  const path = rng.chance(0.85) ? docPath(rng) : rng.chance(0.5) ? '/_peer' : oddTarget(rng)
  const frames = Array.from({ length: 1 + rng.int(3) }, () => {
    const payload = rng.chance(0.8) ? validClientFrame(rng, corpus) : randomBytes(rng, 64)
    return encodeFrame(rng, wireFrame(rng, payload))
  })
  let bytes = Buffer.concat(frames)
  if (rng.chance(0.15)) bytes = Buffer.from(mutate(rng, bytes))
  if (rng.chance(0.1)) bytes = bytes.subarray(0, rng.int(bytes.byteLength))
  const inHead = rng.chance(0.3)
  const reset = rng.chance(0.2)
  const request = Buffer.from(upgradeRequest(path, rng), 'latin1')
  return {
    edge: 'ws-wire',
    describe:
      `ws-wire ${JSON.stringify(path)}: upgrade, then ${inHead ? 'in the same write' : 'after the 101'} ` +
      `bytes ${hex(bytes)}${reset ? ', then a TCP reset' : ''}`,
    send: (target) =>
      tcpExchange(
        target.port,
        inHead ? { first: Buffer.concat([request, bytes]), waitMs: 150, reset } : { first: request, afterHead: bytes, waitMs: 150, reset },
      ),
  }
}

export function upgradeRequest(path: string, rng: Rng, extraHeaders = ''): string {
  const key = Buffer.from(Array.from({ length: 16 }, () => rng.int(256))).toString('base64')
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`
  )
}
