import { SyncmeshApiError, okOrThrow } from './api-error.js'
import { nodeApi, type NodeApiOptions } from './node-api.js'
import type { ChangeEvent } from '../src/changes/change-feed.js'

export type { ChangeEvent } from '../src/changes/change-feed.js'

export interface ChangesOptions {
  /** Resume after this cursor; from the oldest event the node keeps without it. */
  since?: string
  /** Only documents whose name starts with this. */
  prefix?: string
  /** Ends the iteration. */
  signal?: AbortSignal
  /** Events asked for per request (default 100, at most 1,000). */
  pageSize?: number
  /** Longest wait between two attempts while the node cannot be reached (default 5,000 ms); it doubles from 100 ms. */
  maxBackoffMs?: number
}

/** How long one long poll waits for an event. */
const pollWait = '30s'
const initialBackoffMs = 100

/**
 * Every change of the node's documents that the token may read, in order, as they come, until `signal` aborts.
 * Resumes by itself after a dropped connection or a node restart (the node's cursor is durable), without
 * missing or repeating an event. A cursor past the node's retention, or from another node, ends it with a
 * SyncmeshApiError (410, `cursor_expired` or `cursor_unknown`; `details.oldestCursor` says where to resume).
 */
export async function* followChanges(api: NodeApiOptions, options: ChangesOptions = {}): AsyncGenerator<ChangeEvent> {
  const changes = nodeApi(api).v1.changes
  let since = options.since
  let backoffMs = initialBackoffMs
  const maxBackoffMs = options.maxBackoffMs ?? 5_000
  while (!options.signal?.aborted) {
    let page: { changes: ChangeEvent[]; nextCursor: string }
    try {
      const query = {
        ...(since !== undefined && { since }),
        ...(options.prefix !== undefined && { prefix: options.prefix }),
        limit: String(options.pageSize ?? 100),
        wait: pollWait,
      }
      const res = await okOrThrow(await changes.$get({ query }, { init: { ...(options.signal && { signal: options.signal }) } }))
      // The route answers an event stream too, so `hc` cannot type its JSON.
      page = (await res.json()) as typeof page
    } catch (err) {
      if (options.signal?.aborted) return
      if (err instanceof SyncmeshApiError && !isTransient(err.status)) throw err
      await sleep(backoffMs, options.signal)
      backoffMs = Math.min(maxBackoffMs, backoffMs * 2)
      continue
    }
    backoffMs = initialBackoffMs
    yield* page.changes
    since = page.nextCursor
  }
}

/** Answers worth asking again: the node is busy, starting or stopping. */
function isTransient(status: number): boolean {
  return status === 429 || status >= 500
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
  })
}
