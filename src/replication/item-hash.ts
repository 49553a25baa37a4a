import { hash as oneShotHash } from 'node:crypto'
import { digestBytes, maxItemNameBytes } from '../protocol/range-codec.js'

/** Bytes of an item's hash: four uint32 lanes, which range fingerprints add up (see ItemSet). */
export const itemHashBytes = 16

/** Room for any item's hash input: its name (at most maxItemNameBytes of UTF-8), a 0 byte and its digest. */
const hashInput = Buffer.alloc(maxItemNameBytes + 1 + digestBytes)

/**
 * The first 16 bytes of SHA-256(utf8 name, 0x00, digest): what a (name, digest) item adds to the fingerprint of
 * every range holding it. Kept with the digest in storage, so that a restart need not hash every document again.
 */
export function itemHash(name: string, digest: Uint8Array): Uint8Array {
  const nameBytes = hashInput.write(name, 0, 'utf8')
  hashInput[nameBytes] = 0
  hashInput.set(digest, nameBytes + 1)
  return oneShotHash('sha256', hashInput.subarray(0, nameBytes + 1 + digestBytes), 'buffer').subarray(0, itemHashBytes)
}
