import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { docNameSchema } from './commands.js'
import { compareStrings } from './queries.js'

/*
 * Tombstones are kept forever and every snapshot holds all of them, so they are written compactly: sorted by
 * name, each name as the number of leading UTF-8 bytes it shares with the one before and the bytes that
 * follow (front coding: document names share long prefixes, such as their namespace), then its deletion
 * index, all as varints. A tombstone costs its name's distinct suffix plus about four bytes.
 */

export class MalformedTombstonesError extends Error {
  override name = 'MalformedTombstonesError'
}

export function writeTombstones(encoder: encoding.Encoder, tombstones: ReadonlyMap<string, number>): void {
  const names = [...tombstones.keys()].sort(compareStrings)
  const utf8 = new TextEncoder()
  encoding.writeVarUint(encoder, names.length)
  let previous = new Uint8Array()
  for (const name of names) {
    // UTF-8 cannot hold a lone surrogate: writing one as U+FFFD would make this node's snapshot name another
    // document than its log did. Names come from percent-decoded UTF-8 paths, so none can have one.
    if (!name.isWellFormed()) throw new Error(`tombstone ${JSON.stringify(name)} is not well-formed Unicode`)
    const bytes = utf8.encode(name)
    const shared = sharedPrefixBytes(previous, bytes)
    encoding.writeVarUint(encoder, shared)
    encoding.writeVarUint8Array(encoder, bytes.subarray(shared))
    encoding.writeVarUint(encoder, tombstones.get(name)!)
    previous = bytes
  }
}

/**
 * Reads what `writeTombstones` wrote; names must be document names as a `delete-doc` command takes them (and as
 * format 1 snapshots held them), in strictly increasing order.
 */
export function readTombstones(decoder: decoding.Decoder): Map<string, number> {
  const count = decoding.readVarUint(decoder)
  // Each tombstone takes at least three bytes: a count no buffer could hold is refused before any work.
  if (count > remaining(decoder) / 3) throw new MalformedTombstonesError(`${count} tombstones cannot fit`)
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  const tombstones = new Map<string, number>()
  let previousBytes = new Uint8Array()
  let previousName: string | null = null
  for (let i = 0; i < count; i++) {
    const shared = decoding.readVarUint(decoder)
    if (shared > previousBytes.byteLength) throw new MalformedTombstonesError(`tombstone ${i} shares more than there is`)
    const suffix = decoding.readVarUint8Array(decoder)
    const bytes = new Uint8Array(shared + suffix.byteLength)
    bytes.set(previousBytes.subarray(0, shared))
    bytes.set(suffix, shared)
    let name: string
    try {
      name = utf8.decode(bytes)
    } catch {
      throw new MalformedTombstonesError(`tombstone ${i} is not UTF-8`)
    }
    const checked = docNameSchema.safeParse(name)
    if (!checked.success) throw new MalformedTombstonesError(`tombstone ${i}: ${checked.error.issues[0]!.message}`)
    if (previousName !== null && compareStrings(previousName, name) >= 0) {
      throw new MalformedTombstonesError(`tombstone ${i} is out of order or repeated`)
    }
    tombstones.set(name, decoding.readVarUint(decoder))
    previousBytes = bytes
    previousName = name
  }
  return tombstones
}

function sharedPrefixBytes(a: Uint8Array, b: Uint8Array): number {
  const max = Math.min(a.byteLength, b.byteLength)
  let i = 0
  while (i < max && a[i] === b[i]) i++
  return i
}

function remaining(decoder: decoding.Decoder): number {
  return decoder.arr.byteLength - decoder.pos
}
