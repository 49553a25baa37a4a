import type { Logger } from 'pino'
import type { DocStore } from '../docs/doc-store.js'
import { guarded } from './boundaries.js'
import { ItemSet, compareNames } from './item-set.js'

/**
 * Digests of documents not in memory are brought up to date once commits have paused this long; all of them
 * at every reconciliation. A document in memory is usually one that people are typing into: computing its
 * digest at every pause would walk all its structs at every keystroke.
 */
const quietMs = 20
/** Longest a refresh holds the event loop; the rest continues in later turns, so that clients are served meanwhile. */
const refreshBudgetMs = 50

/**
 * Every stored document with its digest, as the set that anti-entropy reconciles. Digests are brought up to
 * date lazily: a commit only marks its document, and `refresh` computes the digests of the marked ones (a
 * digest costs a walk over the document's structs, too much for every commit of a busy document). Besides
 * every reconciliation, a refresh runs once commits pause, so that a burst of changes to a document —
 * a healing partition delivers several to each — costs one digest, not one per change.
 */
export class DigestIndex {
  readonly items = new ItemSet()
  private readonly stale = new Set<string>()
  /** Stale names taken for the refresh under way, in reverse name order (taken from the end). */
  private queue: string[] = []
  private quietTimer: NodeJS.Timeout | null = null
  private continuation: NodeJS.Immediate | null = null
  /** Callbacks of `whenFresh`, each with the refresh passes (drains of `queue`) it still waits for. */
  private waiters: { passesLeft: number; then: () => void }[] = []
  private readonly stopListening: () => void

  constructor(
    private readonly docs: DocStore,
    private readonly log: Logger,
  ) {
    for (const { name, kept } of docs.storedDigests()) {
      if (kept) this.items.set(name, kept.digest, kept.itemHash)
      else this.stale.add(name)
    }
    this.stopListening = docs.on({
      committed: (name) => {
        this.stale.add(name)
        this.refreshWhenQuiet()
      },
      deleted: (name) => {
        this.stale.delete(name)
        this.items.delete(name)
      },
    })
  }

  /** Documents whose digest is out of date. */
  get staleCount(): number {
    return this.stale.size + this.queue.length
  }

  /**
   * Calls `then` once every digest stale now has been computed: those taken for the refresh under way when
   * that one ends, the others at the end of the pass after it. Refreshes in slices as `refresh` does. (A
   * quiet refresh under way leaves documents in memory for later: those few may still be stale then.)
   */
  whenFresh(then: () => void): void {
    const passesLeft = (this.queue.length > 0 ? 1 : 0) + (this.stale.size > 0 ? 1 : 0)
    if (passesLeft === 0) {
      then()
      return
    }
    this.waiters.push({ passesLeft, then })
    this.refresh()
  }

  /** Stops listening first: the store's last writes, on its own close, must not start a refresh of a closed store. */
  close(): void {
    this.waiters = []
    this.stopListening()
    if (this.quietTimer) clearTimeout(this.quietTimer)
    if (this.continuation) clearImmediate(this.continuation)
  }

  /**
   * Computes the digests of documents changed since they were last computed (`notLoaded`: only of those not
   * in memory), for at most refreshBudgetMs; what is left continues in later turns of the event loop (a node
   * back from a long absence may have many).
   */
  refresh(notLoaded = false): void {
    const deadline = performance.now() + refreshBudgetMs
    const skipped: string[] = []
    for (;;) {
      if (this.queue.length === 0) {
        if (this.stale.size === 0) break
        // In name order: many new documents then go in at the end of the sorted set, not each in the middle.
        this.queue = [...this.stale].sort((a, b) => compareNames(b, a))
        this.stale.clear()
      }
      if (performance.now() > deadline) {
        this.continueLater(notLoaded)
        break
      }
      const name = this.queue.pop()!
      if (notLoaded && this.docs.isLoaded(name)) skipped.push(name)
      else this.recompute(name)
      if (this.queue.length === 0) this.passEnded()
    }
    for (const name of skipped) this.stale.add(name)
  }

  private recompute(name: string): void {
    try {
      const kept = this.docs.keptDigest(name)
      if (kept) this.items.set(name, kept.digest, kept.itemHash)
      else this.items.delete(name)
    } catch (err) {
      // Until it changes again, peers see it as absent here and send what they hold of it; the refresh goes on.
      this.items.delete(name)
      this.log.error({ doc: name, err }, 'computing a digest failed; the document is left out of reconciliation')
    }
  }

  private continueLater(notLoaded: boolean): void {
    this.continuation ??= setImmediate(() => {
      this.continuation = null
      // Someone waits for every digest, documents in memory included.
      guarded(this.log, 'digest refresh', () => this.refresh(notLoaded && this.waiters.length === 0))
    })
  }

  /** Calls every waiter whose passes are done; one that throws keeps none of the others waiting. */
  private passEnded(): void {
    if (this.waiters.length === 0) return
    const done = this.waiters.filter((waiter) => --waiter.passesLeft <= 0)
    this.waiters = this.waiters.filter((waiter) => waiter.passesLeft > 0)
    for (const waiter of done) guarded(this.log, 'a callback waiting for fresh digests', waiter.then)
  }

  private refreshWhenQuiet(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer)
    this.quietTimer = setTimeout(() => {
      this.quietTimer = null
      guarded(this.log, 'digest refresh', () => this.refresh(true))
    }, quietMs)
    this.quietTimer.unref()
  }
}
