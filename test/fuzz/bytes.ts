import type { Rng } from '../sim/rng.js'

/** Bytes that sit on the edges of varints, lengths and type numbers. */
const edgeBytes = [0x00, 0x01, 0x02, 0x03, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x40]

/** A length biased towards small ones, where decoders' edge cases are, with an occasional long one. */
export function randomLength(rng: Rng, max: number): number {
  if (rng.chance(0.1)) return rng.int(max + 1)
  return rng.int(Math.min(max, 24) + 1)
}

export function randomBytes(rng: Rng, maxLength: number): Uint8Array {
  const bytes = new Uint8Array(randomLength(rng, maxLength))
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.chance(0.3) ? rng.pick(edgeBytes) : rng.int(256)
  return bytes
}

/** A varint of up to 10 bytes, the longest lib0 might be asked to read. */
function extremeVarint(rng: Rng): number[] {
  const length = 1 + rng.int(10)
  return Array.from({ length }, (_, i) => (i < length - 1 ? 0x80 | rng.int(128) : rng.pick([0x00, 0x01, 0x7f])))
}

type Mutation = (rng: Rng, bytes: number[]) => void

const mutations: Mutation[] = [
  (rng, b) => {
    if (b.length > 0) b[rng.int(b.length)]! ^= 1 << rng.int(8)
  },
  (rng, b) => {
    if (b.length > 0) b[rng.int(b.length)] = rng.pick(edgeBytes)
  },
  (rng, b) => {
    if (b.length > 0) b[rng.int(b.length)] = rng.int(256)
  },
  (rng, b) => b.splice(rng.int(b.length + 1), 0, ...randomBytes(rng, 8)),
  (rng, b) => b.splice(rng.int(b.length + 1), 1 + rng.int(4)),
  (rng, b) => b.splice(rng.int(b.length + 1)),
  (rng, b) => {
    const start = rng.int(b.length + 1)
    b.splice(rng.int(b.length + 1), 0, ...b.slice(start, start + 1 + rng.int(16)))
  },
  (rng, b) => b.splice(rng.int(b.length + 1), rng.int(2), ...extremeVarint(rng)),
  (rng, b) => {
    if (b.length < 2) return
    const i = rng.int(b.length)
    const j = rng.int(b.length)
    ;[b[i], b[j]] = [b[j]!, b[i]!]
  },
]

/** `bytes` with one to `most` random mutations: flipped bits, edge values, insertions, cuts, repeats, huge varints. */
export function mutate(rng: Rng, bytes: Uint8Array, most = 4): Uint8Array {
  const b = [...bytes]
  const count = 1 + rng.int(most)
  for (let i = 0; i < count; i++) rng.pick(mutations)(rng, b)
  return Uint8Array.from(b)
}

export function hex(bytes: Uint8Array, maxBytes = 1024): string {
  const shown = Buffer.from(bytes.subarray(0, maxBytes)).toString('hex')
  return bytes.byteLength > maxBytes ? `${shown}… (${bytes.byteLength} bytes)` : shown
}

/** `text` with every run of one character longer than 12 written as `a{×5000}`, to keep reports readable. */
export const collapseRuns = (text: string): string => text.replace(/(.)\1{12,}/gsu, (run, char: string) => `${char}{×${[...run].length}}`)
