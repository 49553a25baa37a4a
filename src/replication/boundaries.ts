import type { Logger } from 'pino'
import type { ReplicationTransport } from './transport.js'

/**
 * Replication's error boundaries. Its work runs in timers, immediates, digest callbacks and promise chains,
 * where a throw would end the process; each of those entry points catches here, logs once and goes on.
 */

/** A failure while using one document of a peer's message; names the document for the log. */
export class DocInputError extends Error {
  override name = 'DocInputError'

  constructor(
    readonly doc: string,
    cause: unknown,
  ) {
    super(`${doc}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}

/** Runs `use` on one document of a peer's message; what it throws names the document. */
export function forDoc<T>(doc: string, use: () => T): T {
  try {
    return use()
  } catch (err) {
    throw err instanceof DocInputError ? err : new DocInputError(doc, err)
  }
}

/**
 * Drops a message from `peer` that this node could not use, logging why with the peer and the document, and
 * closes the peer's link with 4400, as for a message that does not decode: the link carries Raft too, but a
 * peer that sent it once would send it again at every reconciliation.
 */
export function refuseFromPeer(
  transport: ReplicationTransport,
  log: Logger,
  peer: string,
  err: unknown,
  session?: number,
): void {
  const doc = err instanceof DocInputError ? err.doc : undefined
  log.error({ peer, doc, session, err }, 'replication message from a peer refused; its link is closed')
  transport.refuse(peer, err instanceof Error ? err.message : String(err))
}

/** Runs `run` at an entry point from the event loop, which nothing may throw past. */
export function guarded(log: Logger, what: string, run: () => void): void {
  try {
    run()
  } catch (err) {
    log.error({ err }, `${what} failed`)
  }
}
