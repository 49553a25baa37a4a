import { Hono, type Context } from 'hono'
import { streamSSE, type SSEStreamingApi } from 'hono/streaming'
import { z } from 'zod'
import type { ChangeFeed, ChangePage } from '../changes/change-feed.js'
import type { DocAccessControl } from '../auth/doc-access.js'
import { ApiError } from './api-error.js'
import { queryParams } from './validate.js'
import { principalOf } from './principal.js'

export interface ChangeRoutesOptions {
  access: DocAccessControl
  /** An event stream with nothing to send writes a comment this often, so that proxies keep it open. */
  keepaliveMs: number
}

/** Longest a long poll waits. */
const maxWaitMs = 60_000

const duration = z
  .string()
  .regex(/^\d{1,6}(ms|s)?$/, 'a duration such as 30s or 500ms')
  .transform((text) => (text.endsWith('ms') ? Number(text.slice(0, -2)) : Number(text.replace(/s$/, '')) * 1_000))
  .pipe(z.number().max(maxWaitMs, `at most ${maxWaitMs / 1_000}s`))

export const changesQuery = z.object({
  since: z.string().optional(),
  prefix: z.string().default(''),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  wait: duration.optional(),
})

/** GET /v1/changes: the node's change feed, as a long-poll JSON page or as Server-Sent Events. */
export function changeRoutes(feed: ChangeFeed, options: ChangeRoutesOptions) {
  return new Hono().get('/', queryParams(changesQuery), async (c) => {
    const reader = await principalOf(c, options.access)
    const query = c.req.valid('query')
    const visible = (name: string) => name.startsWith(query.prefix) && options.access.authorize(reader, name, 'read').ok
    const stream = c.req.header('accept')?.includes('text/event-stream') === true
    // An EventSource reconnects to the URL it was given, `since` and all, and says where it got to in Last-Event-ID.
    const since = (stream ? c.req.header('last-event-id') : undefined) ?? query.since
    // The cursor is checked before anything is streamed, so that a stale one is a 410, not an event.
    const first = pageOrThrow(feed.page(since, visible, query.limit))
    const release = feed.admit()
    if (!release) throw new ApiError(503, 'too_many_consumers', 'this node serves as many change-feed consumers as it may; retry later')
    if (stream) return eventStream(c, feed, first, since, visible, query.limit, options.keepaliveMs, release)
    try {
      let page = first
      const deadline = Date.now() + (query.wait ?? 0)
      const gone = c.req.raw.signal
      while (page.changes.length === 0 && Date.now() < deadline && !feed.isClosed && !gone.aborted) {
        await feed.sleep(deadline - Date.now(), gone)
        page = pageOrThrow(feed.page(page.nextCursor, visible, query.limit))
      }
      return c.json({ changes: page.changes, nextCursor: page.nextCursor })
    } finally {
      release()
    }
  })
}

function eventStream(
  c: Context,
  feed: ChangeFeed,
  first: Extract<ChangePage, { ok: true }>,
  since: string | undefined,
  visible: (name: string) => boolean,
  limit: number,
  keepaliveMs: number,
  release: () => void,
): Response {
  return streamSSE(c, async (stream: SSEStreamingApi) => {
    const aborted = new AbortController()
    stream.onAbort(() => aborted.abort())
    const stopped = () => stream.aborted || feed.isClosed
    try {
      let page = first
      let cursor = since
      while (!stopped()) {
        for (const change of page.changes) await stream.writeSSE({ id: change.cursor, event: change.type, data: JSON.stringify(change) })
        // Nothing new since the last page, not even events this consumer may not see: wait for a recording.
        const idle = page.changes.length === 0 && page.nextCursor === cursor
        cursor = page.nextCursor
        if (idle) await feed.sleep(keepaliveMs, aborted.signal)
        if (stopped()) return
        const next = feed.page(cursor, visible, limit)
        if (!next.ok) {
          // Events this consumer had not read yet were removed by retention while it read slowly.
          await stream.writeSSE({ event: 'error', data: JSON.stringify(errorOf(next).body()) })
          return
        }
        if (idle && next.nextCursor === cursor) await stream.write(': keepalive\n\n')
        page = next
      }
    } finally {
      release()
    }
  })
}

function pageOrThrow(page: ChangePage): Extract<ChangePage, { ok: true }> {
  if (page.ok) return page
  throw errorOf(page)
}

function errorOf(page: Exclude<ChangePage, { ok: true }>): ApiError {
  if (page.reason === 'invalid') return new ApiError(400, 'invalid_cursor', 'since: not a change-feed cursor')
  const resume = { oldestCursor: page.oldestCursor }
  return page.reason === 'expired'
    ? new ApiError(410, 'cursor_expired', 'events after this cursor are past the retention; resume from oldestCursor', resume)
    : new ApiError(410, 'cursor_unknown', "this cursor is not one of this node's change feed; resume from oldestCursor", resume)
}
