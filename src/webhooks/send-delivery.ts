import type { DeliveryAttempt } from '../storage/webhook-storage.js'
import { deliveryHeaders } from './delivery-message.js'

/** Longest error text kept for an attempt. */
const maxErrorChars = 200

/**
 * POSTs one signed delivery and says how it went. Any 2xx answer is success; redirects are not followed (a
 * receiver that moved is re-registered); the answer's body is not read. Never throws.
 */
export async function sendDelivery(
  target: { url: string; secret: string },
  messageId: string,
  body: string,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<DeliveryAttempt> {
  const start = Date.now()
  const finish = (status: number | null, error: string | null): DeliveryAttempt => ({
    timeMs: start,
    status,
    error: error && error.slice(0, maxErrorChars),
    durationMs: Date.now() - start,
  })
  try {
    const answer = await fetch(target.url, {
      method: 'POST',
      headers: deliveryHeaders(target.secret, messageId, body, new Date(start)),
      body,
      redirect: 'manual',
      signal: AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]),
    })
    await answer.body?.cancel()
    const ok = answer.status >= 200 && answer.status < 300
    return finish(answer.status, ok ? null : `answered ${answer.status}`)
  } catch (err) {
    if (err instanceof Error && err.name === 'TimeoutError') return finish(null, `no answer within ${timeoutMs} ms`)
    return finish(null, describe(err))
  }
}

/** fetch's errors say "fetch failed"; the reason (refused, reset, DNS) is their cause. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = err.cause instanceof Error ? err.cause : null
  return cause ? `${err.message}: ${(cause as NodeJS.ErrnoException).code ?? cause.message}` : err.message
}
