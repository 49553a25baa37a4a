import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { decodeUtf8 } from 'lib0/string'
import { applyAwarenessUpdate, type Awareness } from 'y-protocols/awareness'
import { CloseCode } from '../protocol/close-codes.js'

/** Largest awareness state, as the JSON the client sent. A larger one closes the connection with 4413. */
export const maxAwarenessStateBytes = 64 * 1024
/** Client ids one connection may announce while it is connected; entries for more are refused. */
export const maxAwarenessIdsPerConnection = 4
/** Awareness states one document holds, its peers' clients included. */
export const maxAwarenessStatesPerDoc = 10_000
/** Distinct client ids a connection may be refused before it is closed with 4400. */
export const maxRefusedAwarenessIdsPerConnection = 8

export type AwarenessVerdict = { ok: true } | { ok: false; code: number; reason: string }

/** One entry of an awareness update; the state stays undecoded JSON until it is to be applied. */
export interface AwarenessEntry {
  clientId: number
  clock: number
  state: Uint8Array
}

/** Reads one entry, as y-protocols' `encodeAwarenessUpdate` writes it; the state is a view into the update. */
export function readAwarenessEntry(decoder: decoding.Decoder): AwarenessEntry {
  const clientId = decoding.readVarUint(decoder)
  const clock = decoding.readVarUint(decoder)
  return { clientId, clock, state: decoding.readVarUint8Array(decoder) }
}

/**
 * The entries of an awareness update, read one at a time as they are asked for: a caller that stops early
 * reads no further. Throws for a malformed update, including bytes after the last entry.
 */
function* readAwarenessEntries(update: Uint8Array): Generator<AwarenessEntry> {
  const decoder = decoding.createDecoder(update)
  const count = decoding.readVarUint(decoder)
  for (let i = 0; i < count; i++) yield readAwarenessEntry(decoder)
  if (decoding.hasContent(decoder)) throw new Error('bytes after the last entry')
}

export function writeAwarenessEntry(encoder: encoding.Encoder, entry: AwarenessEntry): void {
  encoding.writeVarUint(encoder, entry.clientId)
  encoding.writeVarUint(encoder, entry.clock)
  encoding.writeVarUint8Array(encoder, entry.state)
}

/**
 * Who may set which awareness states of one document, and how many there may be.
 *
 * A connection owns the client ids it announces — the first id it sets a state for, and a few more — until
 * it leaves; it may set and remove only those. Entries for ids held by anyone else are dropped. A stock
 * provider echoes every state it receives, so a stale entry (no newer than the known clock) is an echo and
 * dropped silently; a newer one is an attempt to take another's presence, and is refused. Refusals are
 * counted by distinct id: a provider relaying a sibling tab's state over BroadcastChannel (y-websocket's
 * default) can beat the sibling's own frame here, again and again for the same id, and must not be closed
 * for it; an attacker repeating one id gains nothing, since every try is dropped.
 *
 * Updates are read one entry at a time and reading stops at the first entry past a bound, so a flood costs
 * no memory; only states that are applied are ever parsed. The accepted entries are applied through
 * y-protocols, so clock ordering, removal by `null` and the `change`/`update` events are the stock ones.
 */
export class AwarenessGuard {
  private readonly ownerOf = new Map<number, object>()
  private readonly announced = new Map<object, Set<number>>()
  private readonly refused = new Map<object, Set<number>>()

  constructor(private readonly awareness: Awareness) {}

  /** Applies what `owner` may set of `update`; a refusal says how to close its connection, and applies nothing. */
  applyFromClient(owner: object, update: Uint8Array): AwarenessVerdict {
    const mine = this.announced.get(owner) ?? new Set<number>()
    const claims = new Set<number>()
    const accepted = new Map<number, AwarenessEntry>()
    try {
      for (const entry of readAwarenessEntries(update)) {
        const { clientId } = entry
        if (entry.state.byteLength > maxAwarenessStateBytes) return tooLarge(entry)
        if (mine.has(clientId) || claims.has(clientId)) {
          if (this.supersedes(entry, accepted.get(clientId))) accepted.set(clientId, entry)
        } else if (this.isHeld(clientId)) {
          if (entry.clock > this.clockOf(clientId) && this.refuse(owner, clientId)) return refusedTooOften()
        } else if (!isNullJson(entry.state) && entry.clock > this.clockOf(clientId)) {
          if (mine.size + claims.size >= maxAwarenessIdsPerConnection) {
            if (this.refuse(owner, clientId)) return refusedTooOften()
          } else {
            claims.add(clientId)
            accepted.set(clientId, entry)
          }
        }
        // What is left is a removal of an id nobody holds, or a stale claim: it stores nothing.
      }
    } catch (err) {
      return malformed((err as Error).message)
    }
    // Parsed here so that nothing changes before a bad state is found, and again by y-protocols: at most
    // maxAwarenessIdsPerConnection states, one per id, whatever the update's length.
    const invalid = [...accepted.values()].find((entry) => !isJson(entry.state))
    if (invalid) return malformed(`the state of client ${invalid.clientId} is not JSON`)
    // A full document closes with 1013 rather than dropping the state: the client is told, and its provider
    // reconnects with backoff until others have left, instead of editing on unseen with no sign of why.
    const additions = [...accepted.values()].filter((entry) => this.adds(entry)).length
    if (this.awareness.states.size + additions > maxAwarenessStatesPerDoc) {
      return {
        ok: false,
        code: CloseCode.tryAgainLater,
        reason: `the document holds ${maxAwarenessStatesPerDoc} awareness states, its limit; try again later`,
      }
    }
    for (const clientId of claims) {
      mine.add(clientId)
      this.ownerOf.set(clientId, owner)
    }
    if (mine.size > 0) this.announced.set(owner, mine)
    this.apply(accepted.values(), owner)
    return { ok: true }
  }

  /**
   * Applies awareness of other nodes' clients. Peers are trusted to own their clients' ids, but not this
   * node's: entries for those, oversize or invalid ones and additions past the document bound are dropped,
   * as is a malformed update as a whole.
   */
  applyFromPeers(update: Uint8Array, origin: unknown): void {
    const accepted = new Map<number, AwarenessEntry>()
    try {
      for (const entry of readAwarenessEntries(update)) {
        const { clientId } = entry
        if (entry.state.byteLength > maxAwarenessStateBytes) continue
        if (this.ownerOf.has(clientId) || clientId === this.awareness.clientID) continue
        const known = accepted.get(clientId)
        if (!known && !this.awareness.states.has(clientId) && isNullJson(entry.state)) continue
        if (this.supersedes(entry, known)) accepted.set(clientId, entry)
      }
    } catch {
      return
    }
    let free = maxAwarenessStatesPerDoc - this.awareness.states.size
    const admitted: AwarenessEntry[] = []
    for (const entry of accepted.values()) {
      if (!isJson(entry.state)) continue
      if (this.adds(entry)) {
        if (free <= 0) continue
        free--
      }
      admitted.push(entry)
    }
    this.apply(admitted, origin)
  }

  /** Forgets `owner` and returns the client ids it announced: their states are for the caller to remove. */
  release(owner: object): number[] {
    const ids = [...(this.announced.get(owner) ?? [])]
    for (const clientId of ids) this.ownerOf.delete(clientId)
    this.announced.delete(owner)
    this.refused.delete(owner)
    return ids
  }

  /** Held by another connection, by a peer's client, or the room's own id (which y-protocols never lets go). */
  private isHeld(clientId: number): boolean {
    return this.ownerOf.has(clientId) || this.awareness.states.has(clientId) || clientId === this.awareness.clientID
  }

  private clockOf(clientId: number): number {
    return this.awareness.meta.get(clientId)?.clock ?? 0
  }

  /** Whether `entry` would add a state the document does not hold yet. */
  private adds(entry: AwarenessEntry): boolean {
    return !isNullJson(entry.state) && !this.awareness.states.has(entry.clientId)
  }

  /**
   * Whether y-protocols, applying `entry` after `earlier` (the update's own last entry for that id, or else
   * what the document holds), would take it: a newer clock, or a removal at the same clock.
   */
  private supersedes(entry: AwarenessEntry, earlier: AwarenessEntry | undefined): boolean {
    const clock = earlier ? earlier.clock : this.clockOf(entry.clientId)
    const holdsState = earlier ? !isNullJson(earlier.state) : this.awareness.states.has(entry.clientId)
    return entry.clock > clock || (entry.clock === clock && holdsState && isNullJson(entry.state))
  }

  /** Counts a refusal; true when the connection has now been refused more ids than it may. */
  private refuse(owner: object, clientId: number): boolean {
    const ids = this.refused.get(owner) ?? new Set<number>()
    ids.add(clientId)
    this.refused.set(owner, ids)
    return ids.size > maxRefusedAwarenessIdsPerConnection
  }

  private apply(entries: Iterable<AwarenessEntry>, origin: unknown): void {
    const list = [...entries]
    if (list.length === 0) return
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, list.length)
    for (const entry of list) writeAwarenessEntry(encoder, entry)
    applyAwarenessUpdate(this.awareness, encoding.toUint8Array(encoder), origin)
  }
}

const malformed = (detail: string): AwarenessVerdict => ({
  ok: false,
  code: CloseCode.malformedMessage,
  reason: `invalid awareness update: ${detail}`,
})

const tooLarge = (entry: AwarenessEntry): AwarenessVerdict => ({
  ok: false,
  code: CloseCode.tooLarge,
  reason: `awareness state of client ${entry.clientId} is ${entry.state.byteLength} bytes; the limit is ${maxAwarenessStateBytes}`,
})

const refusedTooOften = (): AwarenessVerdict => ({
  ok: false,
  code: CloseCode.malformedMessage,
  reason: `awareness refused for over ${maxRefusedAwarenessIdsPerConnection} client ids held by others or past ${maxAwarenessIdsPerConnection} per connection`,
})

function isJson(state: Uint8Array): boolean {
  try {
    JSON.parse(decodeUtf8(state))
    return true
  } catch {
    return false
  }
}

const nullJson = new TextEncoder().encode('null')
const isJsonSpace = (byte: number | undefined): boolean => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09

/** Whether the JSON text is `null`, which removes a state; decided on the bytes, without parsing. */
function isNullJson(state: Uint8Array): boolean {
  let start = 0
  let end = state.length
  while (start < end && isJsonSpace(state[start])) start++
  while (end > start && isJsonSpace(state[end - 1])) end--
  return end - start === nullJson.length && nullJson.every((byte, i) => state[start + i] === byte)
}
