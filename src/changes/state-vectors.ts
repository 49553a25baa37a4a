import * as Y from 'yjs'
import { RecentMap } from '../recent-map.js'

/**
 * The state vectors of documents that are not in memory, carried from one change-feed event to the next
 * through the updates committed in between, so that an event does not read the whole document back from
 * storage. An entry holds for one meta `nextSeq`; a commit the tracker did not see, or an update it cannot
 * follow (one with a gap, which may leave structs pending), drops it, and the next event reads the document.
 */
export class StateVectorTracker {
  private readonly entries: RecentMap<string, { seq: number; clocks: Map<number, number> }>

  constructor(maxDocs: number) {
    this.entries = new RecentMap(maxDocs)
  }

  /**
   * The document's state vector (encoded, or as the clock of each client) when its meta's `nextSeq` was `seq`,
   * as read from the document; an older one than the tracker holds is ignored.
   */
  set(name: string, seq: number, stateVector: Uint8Array | ReadonlyMap<number, number>): void {
    const known = this.entries.get(name)
    if (known && known.seq > seq) return
    this.entries.set(name, { seq, clocks: stateVector instanceof Uint8Array ? Y.decodeStateVector(stateVector) : new Map(stateVector) })
  }

  /** A commit that took the document's `nextSeq` to `seq` by writing `updates`. */
  committed(name: string, seq: number, updates: readonly Uint8Array[]): void {
    const entry = this.entries.get(name)
    // Read from storage after this commit became visible there, before it was durable and announced: it holds it.
    if (!entry || entry.seq >= seq) return
    if (entry.seq !== seq - 1 || !updates.every((update) => extend(entry.clocks, update))) {
      this.entries.delete(name)
      return
    }
    entry.seq = seq
  }

  /** The state vector at `seq`, if this tracker followed the document there. */
  get(name: string, seq: number): Uint8Array | undefined {
    const entry = this.entries.get(name)
    return entry && entry.seq === seq ? Y.encodeStateVector(entry.clocks) : undefined
  }

  forget(name: string): void {
    this.entries.delete(name)
  }
}

/**
 * Moves `clocks` past the structs of `update`, if each client's structs in it are one unbroken run that starts
 * at or before what `clocks` holds; false otherwise (`clocks` may then be half moved: the caller drops it).
 */
function extend(clocks: Map<number, number>, update: Uint8Array): boolean {
  const { structs } = Y.decodeUpdate(update)
  let client = -1
  let end = 0
  for (const struct of structs) {
    if (struct instanceof Y.Skip) return false
    if (struct.id.client !== client) {
      client = struct.id.client
      if (struct.id.clock > (clocks.get(client) ?? 0)) return false
    } else if (struct.id.clock !== end) return false
    end = struct.id.clock + struct.length
    if (end > (clocks.get(client) ?? 0)) clocks.set(client, end)
  }
  return true
}

