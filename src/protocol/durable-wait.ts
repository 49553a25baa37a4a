import * as decoding from 'lib0/decoding'
import { readDeleteRanges, type DeleteRange } from './delete-set.js'
import type { DurableQuery } from './y-websocket.js'

/** A delete set with no clients, as the query of the first form asks for no deletions. */
const emptyDeleteSet = Uint8Array.of(0)

/** What a durability query is checked against: the document as durable on this node. */
export interface DurableState {
  /** How many structs of `client` the document holds (Y.getState). */
  clockOf(client: number): number
  /** Whether the document deletes every id of `range`. */
  deletes(range: DeleteRange): boolean
  /** Changes each time the document's delete set grows, and only then. */
  readonly deleteSetVersion: number
}

/**
 * When a durability query (type 64) is answered: once the state holds every struct of its state vector and
 * then every range of its delete set. A document's state only grows, so what was held once stays held: the
 * wait walks the query's clients, then its ranges, in order, and stops at the first not held yet, to go on
 * from there at the next check; it looks at the ranges again only once the delete set has grown. A query
 * that is never covered costs a look-up or two per change, whatever its size.
 */
export class DurableWait {
  private readonly structs: [client: number, clock: number][]
  private structsHeld = 0
  private readonly ranges: Iterator<DeleteRange, void>
  private range: IteratorResult<DeleteRange, void>
  private checkedDeleteSetVersion: number | null = null

  constructor({ stateVector, deletions }: DurableQuery) {
    this.structs = [...stateVector]
    // decodeDurableQuery has read these bytes once already: they are well formed.
    this.ranges = readDeleteRanges(decoding.createDecoder(deletions ?? emptyDeleteSet))
    this.range = this.ranges.next()
  }

  /** Whether `state` holds everything the query names; once true, it stays true. */
  covered(state: DurableState): boolean {
    for (; this.structsHeld < this.structs.length; this.structsHeld++) {
      const [client, clock] = this.structs[this.structsHeld]!
      if (state.clockOf(client) < clock) return false
    }
    if (!this.range.done && state.deleteSetVersion !== this.checkedDeleteSetVersion) {
      this.checkedDeleteSetVersion = state.deleteSetVersion
      while (!this.range.done && state.deletes(this.range.value)) this.range = this.ranges.next()
    }
    return this.range.done === true
  }
}
