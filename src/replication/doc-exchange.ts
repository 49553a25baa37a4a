import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { DocStore } from '../docs/doc-store.js'
import { checkDocName } from '../docs/doc-name.js'
import type { DocReply, NamedUpdate, ReplicationMessage } from '../protocol/replication-codec.js'
import { forDoc } from './boundaries.js'
import { PeerOrigin } from './peer-origin.js'
import { chunkBySize } from './transport.js'

/** Names per doc-request, and bytes per doc-reply or doc-fill: well below the peer link's largest frame. */
const maxNamesPerRequest = 250
const maxMessageBytes = 4 * 1024 * 1024
const emptyStateVector = Y.encodeStateVector(new Y.Doc())

export type Level2Message = Extract<ReplicationMessage, { type: 'doc-request' | 'doc-reply' | 'doc-fill' }>

/**
 * Anti-entropy level 2: for documents found to differ, the two nodes exchange state vectors and send each
 * other exactly what the other lacks. The deltas are `Y.encodeStateAsUpdate(doc, theirStateVector)` or its
 * equivalent on stored updates, which always carries the whole delete set: a divergence made only of
 * deletions is repaired too. Received deltas go through `DocStore.apply` like any client update
 * (validation, the metadata gate — a deleted document stays deleted —, durability, local broadcast).
 *
 * request (asker: its state vectors) → reply (answerer: the asker's missing deltas and its own state
 * vectors) → fill (asker: the answerer's missing deltas).
 */
export class DocExchange {
  /**
   * Per peer: updates it sent that this node already held. In a full mesh one change reaches a node by
   * several paths (live fan-out, relays, its own reconciliation); storing each copy would cost a write
   * and a digest each.
   */
  readonly alreadyHeld = new Map<string, number>()

  constructor(
    private readonly docs: DocStore,
    private readonly isDeleted: (name: string) => boolean,
    private readonly log: Logger,
  ) {}

  /**
   * The doc-requests for `names`, skipping documents deleted here (the peer will learn of it from Raft) and
   * names no document can have (the peer listed them). Each is made when it is asked for: it reads the state
   * vectors of its documents.
   */
  *requests(session: number, names: readonly string[]): Generator<Level2Message, void, undefined> {
    const wanted = names.filter((name) => checkDocName(name).ok && !this.isDeleted(name))
    for (let i = 0; i < wanted.length; i += maxNamesPerRequest) {
      const docs = wanted
        .slice(i, i + maxNamesPerRequest)
        .map((name) => ({ name, stateVector: forDoc(name, () => this.docs.stateVector(name)) ?? emptyStateVector }))
      yield { type: 'doc-request', session, docs }
    }
  }

  /** Handles a doc-request, doc-reply or doc-fill from `peer`; returns the messages to send back. */
  receive(peer: string, message: Level2Message): Level2Message[] {
    switch (message.type) {
      case 'doc-request':
        return this.answer(message.session, message.docs)
      case 'doc-reply':
        return this.fill(peer, message.session, message.docs)
      case 'doc-fill':
        this.applyFromPeer(peer, message.docs, true)
        return []
    }
  }

  private answer(session: number, asked: readonly { name: string; stateVector: Uint8Array }[]): Level2Message[] {
    const replies: DocReply[] = []
    for (const { name, stateVector } of asked) {
      if (!checkDocName(name).ok) continue
      if (this.isDeleted(name)) {
        replies.push({ name, holding: 'deleted' })
        continue
      }
      const delta = forDoc(name, () => this.docs.readDelta(name, stateVector))
      replies.push(delta ? { name, holding: 'present', ...delta } : { name, holding: 'absent' })
    }
    const sizeOf = (reply: DocReply) => reply.name.length + (reply.holding === 'present' ? reply.update.byteLength : 0)
    return chunkBySize(replies, sizeOf, maxMessageBytes).map((docs) => ({ type: 'doc-reply', session, docs }))
  }

  private fill(peer: string, session: number, replies: readonly DocReply[]): Level2Message[] {
    const theirs: NamedUpdate[] = []
    const missing: NamedUpdate[] = []
    for (const reply of replies) {
      if (!checkDocName(reply.name).ok || reply.holding === 'deleted' || this.isDeleted(reply.name)) continue
      const theirStateVector = reply.holding === 'present' ? reply.stateVector : undefined
      const update = forDoc(reply.name, () => this.docs.readUpdate(reply.name, theirStateVector))
      if (update) missing.push({ name: reply.name, update })
      if (reply.holding === 'present') theirs.push({ name: reply.name, update: reply.update })
    }
    this.applyFromPeer(peer, theirs, true)
    const sizeOf = (doc: NamedUpdate) => doc.name.length + doc.update.byteLength
    return chunkBySize(missing, sizeOf, maxMessageBytes).map((docs) => ({ type: 'doc-fill', session, docs }))
  }

  /** Applies updates a peer sent, as it would a client's; `relay`: pass them on to the other peers. */
  applyFromPeer(peer: string, updates: readonly NamedUpdate[], relay: boolean): void {
    const origin = new PeerOrigin(peer, relay)
    for (const { name, update } of updates) {
      if (!checkDocName(name).ok) continue
      if (this.docs.holds(name, update)) {
        this.alreadyHeld.set(peer, (this.alreadyHeld.get(peer) ?? 0) + 1)
        continue
      }
      void this.docs.apply(name, update, origin).then(
        (result) => {
          if (!result.ok && result.reason !== 'deleted') {
            this.log.warn({ peer, doc: name, reason: result.reason }, 'update from a peer refused')
          }
        },
        // apply answers an update it cannot use with a reason: a rejection is this node's failure, not the peer's.
        (err: unknown) => this.log.error({ peer, doc: name, err }, 'applying an update from a peer failed'),
      )
    }
  }
}
