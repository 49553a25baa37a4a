import * as Y from 'yjs'
import { Awareness, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness'
import { encodeAwareness, encodeSyncUpdate } from '../protocol/y-websocket.js'
import { deletesRange, type DeleteRange, type DeleteSet } from '../protocol/delete-set.js'
import type { DurableState } from '../protocol/durable-wait.js'
import type { DocHandle } from '../docs/doc-store.js'
import { frameBinary, type FramedMessage } from '../protocol/ws-frame.js'
import { AwarenessGuard, type AwarenessVerdict } from './awareness-guard.js'

/** What a room needs of a connection: a way to send it a message framed once for every member. */
export interface RoomMember {
  sendFramed(message: FramedMessage): void
}

/** The origin of awareness that came from clients of other nodes; it is not passed on to other nodes again. */
const fromPeers = Symbol('awareness from peers')

interface AwarenessChange {
  added: number[]
  updated: number[]
  removed: number[]
}

/**
 * The connections on one document. Document updates reach the room only through the Y.Doc's `update`
 * event, which DocStore fires after the update is durable; the room encodes and frames each one once and
 * writes the same bytes to every member but the one it came from.
 */
export class Room implements DurableState {
  readonly awareness: Awareness
  private readonly members = new Set<RoomMember>()
  private readonly awarenessGuard: AwarenessGuard
  /** The document's delete set, made on demand and dropped when a change makes it grow. */
  private deleteSet: DeleteSet | null = null
  private deleteSetGrowths = 0
  private readonly changeListeners = new Set<() => void>()

  constructor(
    private readonly handle: DocHandle,
    /** Awareness changes of this node's own clients, encoded, for the other nodes. */
    private readonly onLocalAwareness: (update: Uint8Array) => void = () => {},
  ) {
    this.awareness = new Awareness(handle.doc)
    this.awareness.setLocalState(null)
    this.awarenessGuard = new AwarenessGuard(this.awareness)
    handle.doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
  }

  get doc(): Y.Doc {
    return this.handle.doc
  }

  get size(): number {
    return this.members.size
  }

  join(member: RoomMember): void {
    this.members.add(member)
  }

  /** Removes the member and its awareness states; returns true when the room is empty afterwards. */
  leave(member: RoomMember): boolean {
    if (!this.members.delete(member)) return this.members.size === 0
    removeAwarenessStates(this.awareness, this.awarenessGuard.release(member), null)
    return this.members.size === 0
  }

  /**
   * Whether the document already holds everything in `update` (its structs and its deletions): what a
   * read-only client may send. One delete set serves every such question until the document deletes more.
   */
  holds(update: Uint8Array): boolean {
    try {
      const snapshot = Y.createSnapshot(this.currentDeleteSet(), Y.decodeStateVector(Y.encodeStateVector(this.doc)))
      return Y.snapshotContainsUpdate(snapshot, update)
    } catch {
      return false
    }
  }

  clockOf(client: number): number {
    return Y.getState(this.doc.store, client)
  }

  /** A binary search in the delete set shared with every other question until the document deletes more. */
  deletes(range: DeleteRange): boolean {
    return deletesRange(this.currentDeleteSet(), range)
  }

  get deleteSetVersion(): number {
    return this.deleteSetGrowths
  }

  /** Calls `listener` after every change of the document, once the room's own view of it is fresh. Returns what stops that. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener)
    return () => this.changeListeners.delete(listener)
  }

  /**
   * Applies what a member may set of an awareness update: states of the client ids it announced, within
   * the bounds of awareness-guard.ts. A refusal says how to close the member's connection.
   */
  applyClientAwareness(member: RoomMember, update: Uint8Array): AwarenessVerdict {
    return this.awarenessGuard.applyFromClient(member, update)
  }

  /** Applies awareness of clients connected to other nodes, for this node's clients to see. */
  applyPeerAwareness(update: Uint8Array): void {
    this.awarenessGuard.applyFromPeers(update, fromPeers)
  }

  /** The awareness message describing every known client, or null when there is none. */
  awarenessSnapshot(): Uint8Array | null {
    const clients = [...this.awareness.getStates().keys()]
    return clients.length === 0 ? null : encodeAwareness(encodeAwarenessUpdate(this.awareness, clients))
  }

  destroy(): void {
    this.handle.doc.off('update', this.onDocUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    this.awareness.destroy()
    this.members.clear()
    this.changeListeners.clear()
    this.handle.release()
  }

  /** Encodes and frames the message once, and only if some member other than `except` is there to get it. */
  private broadcast(encode: () => Uint8Array, except: unknown): void {
    let message: FramedMessage | null = null
    for (const member of this.members) {
      if (member === except) continue
      message ??= frameBinary(encode())
      member.sendFramed(message)
    }
  }

  private currentDeleteSet(): DeleteSet {
    return (this.deleteSet ??= Y.createDeleteSetFromStructStore(this.doc.store))
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown, _doc: Y.Doc, transaction: Y.Transaction): void => {
    if (growsDeleteSet(transaction)) {
      this.deleteSet = null
      this.deleteSetGrowths++
    }
    this.broadcast(() => encodeSyncUpdate(update), origin)
    for (const listener of this.changeListeners) listener()
  }

  private readonly onAwarenessUpdate = ({ added, updated, removed }: AwarenessChange, origin: unknown): void => {
    const changed = [...added, ...updated, ...removed]
    const update = encodeAwarenessUpdate(this.awareness, changed)
    this.broadcast(() => encodeAwareness(update), null)
    if (origin !== fromPeers) this.onLocalAwareness(update)
  }
}

/**
 * Whether `transaction` grew its document's delete set: by deleting, which yjs lists in its deleteSet, or by
 * adding structs that arrive deleted — GC structs, which it does not list. Costs a look at each new struct.
 */
function growsDeleteSet(transaction: Y.Transaction): boolean {
  if (transaction.deleteSet.clients.size > 0) return true
  for (const [client, after] of transaction.afterState) {
    const before = transaction.beforeState.get(client) ?? 0
    if (after === before) continue
    const structs = transaction.doc.store.clients.get(client)!
    // From the struct holding `before`: a new struct may have been merged into the one before it.
    for (let i = Y.findIndexSS(structs, before); i < structs.length && structs[i]!.id.clock < after; i++) {
      if (structs[i]!.deleted) return true
    }
  }
  return false
}
