import * as Y from 'yjs'
import type { Logger } from 'pino'
import type { DocStore } from '../docs/doc-store.js'
import { checkDocName } from '../docs/doc-name.js'
import { MalformedReplicationMessageError, type ReplicationMessage } from '../protocol/replication-codec.js'
import { forDoc } from './boundaries.js'
import { sendMessage, type ReplicationTransport } from './transport.js'

export type HoldMessage = Extract<ReplicationMessage, { type: 'hold-check' | 'hold-answer' }>

/** Documents asked about per hold-check (the receiver refuses more than maxDocsPerHoldCheck). */
const docsPerCheck = 250
/** How long a hold-check waits for its answer: the peer may have to read every document it names. */
const answerTimeoutMs = 10_000
/** Between pushing what a peer lacked and asking again: the peer makes what it received durable meanwhile. */
const pushPauseMs = 200

/**
 * A removed node's proof that a remaining member holds everything it holds. It asks the member, a page of
 * documents at a time, whether it holds at least each document's Yjs snapshot; sends the whole of each one the
 * member lacks; and asks again until it lacks none. Unlike two identical reconciliations, this holds while the
 * rest of the cluster keeps writing: the member may hold more, never less. A member answers once what it read
 * to answer is durable.
 */
export class HandOffChecks {
  private nextCheck = 1
  private readonly answers = new Map<string, (missing: readonly string[] | null) => void>()

  constructor(
    private readonly docs: DocStore,
    private readonly membership: { isDeleted(name: string): boolean; isDeparting(peer: string): boolean },
    private readonly transport: ReplicationTransport,
    private readonly log: Logger,
  ) {}

  /**
   * A hold-check from a departing peer is answered (one from any other is ignored: answering may read every
   * document it names); a hold-answer settles the check it answers. Throws for an unusable snapshot.
   */
  receive(peer: string, message: HoldMessage): void {
    if (message.type === 'hold-answer') {
      this.answers.get(answerKey(peer, message.check))?.(message.missing)
      return
    }
    if (!this.membership.isDeparting(peer)) {
      this.log.debug({ peer, check: message.check }, 'a hold-check from a peer that is not leaving the cluster; not answered')
      return
    }
    const missing = message.docs.filter(({ name, snapshot }) => !forDoc(name, () => this.holds(name, snapshot))).map(({ name }) => name)
    // What was read may be committed and not yet flushed: the answer waits until it is durable.
    this.docs.whenWritten().then(
      () => sendMessage(this.transport, peer, { type: 'hold-answer', check: message.check, missing }),
      (err: unknown) => this.log.error({ err, peer }, 'a hold-check was not answered: the store did not finish writing'),
    )
  }

  /** Whether `peer` holds everything this node holds, sending it what it lacks; false once `deadline` passes. */
  async handedTo(peer: string, deadline: number): Promise<boolean> {
    let after: string | undefined
    for (;;) {
      const page = this.docs.scan('', after, (name) => !this.membership.isDeleted(name), { limit: docsPerCheck, scanLimit: docsPerCheck })
      let pending = page.items.map(({ name }) => name)
      while (pending.length > 0) {
        const missing = await this.ask(peer, pending, deadline)
        if (missing === null) return false
        const lacked = new Set(missing)
        pending = pending.filter((name) => lacked.has(name))
        if (pending.length === 0) break
        this.push(peer, pending)
        await new Promise((resolve) => setTimeout(resolve, pushPauseMs))
      }
      if (page.resumeAfter === null) return true
      after = page.resumeAfter
    }
  }

  /** Stops waiting for answers: every check under way fails. */
  close(): void {
    for (const settle of [...this.answers.values()]) settle(null)
  }

  private holds(name: string, snapshot: Uint8Array): boolean {
    // A name no document can have, or a document deleted since: nothing of it needs handing over.
    if (!checkDocName(name).ok || this.membership.isDeleted(name)) return true
    let wanted: Y.Snapshot
    try {
      wanted = Y.decodeSnapshot(snapshot)
    } catch (err) {
      throw new MalformedReplicationMessageError(`hold-check: not a Yjs snapshot (${err instanceof Error ? err.message : String(err)})`)
    }
    return this.docs.containsSnapshot(name, wanted)
  }

  /** The names of `names` that `peer` lacks something of; null if it did not answer in time. */
  private ask(peer: string, names: readonly string[], deadline: number): Promise<readonly string[] | null> {
    const docs = names.flatMap((name) => {
      const snapshot = this.docs.snapshot(name)
      return snapshot ? [{ name, snapshot }] : []
    })
    const check = this.nextCheck++
    const key = answerKey(peer, check)
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(null), Math.max(0, Math.min(answerTimeoutMs, deadline - Date.now())))
      const settle = (missing: readonly string[] | null) => {
        clearTimeout(timer)
        this.answers.delete(key)
        resolve(missing)
      }
      this.answers.set(key, settle)
      if (sendMessage(this.transport, peer, { type: 'hold-check', check, docs }) === 0) settle(null)
    })
  }

  private push(peer: string, names: readonly string[]): void {
    for (const name of names) {
      const update = this.docs.readUpdate(name)
      if (update && sendMessage(this.transport, peer, { type: 'updates', updates: [{ name, update }] }) === 0) {
        this.log.debug({ peer, doc: name }, 'hand-off: a document the peer lacks could not be sent now')
      }
    }
  }
}

function answerKey(peer: string, check: number): string {
  return `${peer}\u0000${check}`
}
