import { z } from 'zod'
import type { Member } from '../meta/state.js'
import { deliveryStatuses, type DeliveryAttempt, type StoredDelivery } from '../storage/webhook-storage.js'
import { formatCursor } from '../changes/cursor.js'
import type { WebhookDispatcher } from './webhook-dispatcher.js'

/** `cluster`: every reachable member's deliveries; `node`: the answering node's only. */
export const deliveryScopes = ['cluster', 'node'] as const

export const deliveriesQuery = z.object({
  status: z.enum(deliveryStatuses).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  scope: z.enum(deliveryScopes).default('cluster'),
})
export type DeliveriesQuery = z.output<typeof deliveriesQuery>

const attemptView = z.object({ time: z.string(), status: z.number().int().nullable(), error: z.string().nullable(), durationMs: z.number() })

/** One delivery as `GET /v1/webhooks/:id/deliveries` shows it. */
export const deliveryView = z.object({
  /** The `webhook-id` it is sent with. */
  id: z.string(),
  /** The node that queued it, and the event of that node's change feed it carries. */
  node: z.string(),
  cursor: z.string(),
  type: z.enum(['updated', 'deleted']),
  name: z.string(),
  status: z.enum(deliveryStatuses),
  createdAt: z.string(),
  attempts: z.number().int(),
  nextAttemptAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  /** The latest attempts, oldest first. */
  recentAttempts: z.array(attemptView),
})
export type DeliveryView = z.infer<typeof deliveryView>

export const deliveriesAnswer = z.object({
  webhookId: z.string(),
  /** The node sending this webhook's deliveries, as the answering node sees the cluster. */
  responsibleNode: z.string().nullable(),
  /** Newest first. */
  deliveries: z.array(deliveryView),
  /** Members whose deliveries are missing from the list, and why. */
  unreachable: z.array(z.object({ node: z.string(), error: z.string() })),
})
export type DeliveriesAnswer = z.infer<typeof deliveriesAnswer>

/** How long a member may take to list its deliveries. */
const memberTimeoutMs = 3_000

export interface ListingSource {
  selfId: string
  dispatcher: WebhookDispatcher
  logId: string
  members(): Iterable<Member>
}

/** This node's deliveries of a webhook and, for the cluster scope, every other member's (asked with the caller's credentials). */
export async function listDeliveries(
  source: ListingSource,
  webhookId: string,
  query: DeliveriesQuery,
  authorization: string | undefined,
): Promise<DeliveriesAnswer> {
  const own = source.dispatcher
    .deliveries(webhookId, { limit: query.limit, ...(query.status && { status: query.status }) })
    .map(({ eventSeq, delivery }) => viewOf(delivery, source.selfId, formatCursor({ logId: source.logId, seq: eventSeq })))
  const answer: DeliveriesAnswer = {
    webhookId,
    responsibleNode: source.dispatcher.responsibleNode(webhookId),
    deliveries: own,
    unreachable: [],
  }
  if (query.scope === 'node') return answer
  const others = [...source.members()].filter((member) => member.id !== source.selfId)
  const listed = await Promise.all(others.map((member) => askMember(member, webhookId, query, authorization)))
  for (const [index, result] of listed.entries()) {
    if (result.ok) answer.deliveries.push(...result.deliveries)
    else answer.unreachable.push({ node: others[index]!.id, error: result.error })
  }
  answer.deliveries.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
  answer.deliveries.length = Math.min(answer.deliveries.length, query.limit)
  return answer
}

async function askMember(
  member: Member,
  webhookId: string,
  query: DeliveriesQuery,
  authorization: string | undefined,
): Promise<{ ok: true; deliveries: DeliveryView[] } | { ok: false; error: string }> {
  const url = new URL(`/v1/webhooks/${encodeURIComponent(webhookId)}/deliveries`, member.url)
  url.searchParams.set('scope', 'node')
  url.searchParams.set('limit', String(query.limit))
  if (query.status) url.searchParams.set('status', query.status)
  try {
    const res = await fetch(url, {
      headers: authorization === undefined ? {} : { authorization },
      signal: AbortSignal.timeout(memberTimeoutMs),
    })
    if (!res.ok) {
      await res.body?.cancel()
      return { ok: false, error: `answered ${res.status}` }
    }
    const parsed = deliveriesAnswer.safeParse(await res.json())
    return parsed.success ? { ok: true, deliveries: parsed.data.deliveries } : { ok: false, error: 'answered something else than a delivery list' }
  } catch (err) {
    return { ok: false, error: err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${memberTimeoutMs} ms` : 'not reachable' }
  }
}

function viewOf(delivery: StoredDelivery, node: string, cursor: string): DeliveryView {
  const time = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())
  return {
    id: delivery.messageId,
    node,
    cursor,
    type: delivery.change.type,
    name: delivery.change.name,
    status: delivery.status,
    createdAt: new Date(delivery.createdMs).toISOString(),
    attempts: delivery.attempts,
    nextAttemptAt: time(delivery.dueMs),
    finishedAt: time(delivery.finishedMs),
    recentAttempts: delivery.recentAttempts.map((attempt: DeliveryAttempt) => ({
      time: new Date(attempt.timeMs).toISOString(),
      status: attempt.status,
      error: attempt.error,
      durationMs: attempt.durationMs,
    })),
  }
}
