export interface RetryPolicy {
  /** The delay before the first retry; each later one doubles it, up to `maxDelayMs`. */
  baseDelayMs: number
  maxDelayMs: number
  /** How long after its first attempt a delivery is retried before it is marked failed. */
  retryForMs: number
}

export const defaultRetryPolicy: RetryPolicy = {
  baseDelayMs: 5_000,
  maxDelayMs: 3_600_000,
  retryForMs: 24 * 3_600_000,
}

export type AfterFailure = { status: 'pending'; dueMs: number } | { status: 'failed' }

/**
 * What follows the `attempts`-th failed attempt (1 for the first) of a delivery first attempted at
 * `firstAttemptMs`: exponential backoff with "equal jitter" — between half and all of the doubled delay, so
 * that deliveries that failed together spread out but none is retried at once — and a last attempt at the end
 * of the retry window. `random` is in [0, 1).
 */
export function afterFailure(policy: RetryPolicy, attempts: number, firstAttemptMs: number, nowMs: number, random: number): AfterFailure {
  const deadline = firstAttemptMs + policy.retryForMs
  if (nowMs >= deadline) return { status: 'failed' }
  const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempts - 1, 52))
  return { status: 'pending', dueMs: Math.min(deadline, nowMs + delay / 2 + (random * delay) / 2) }
}
