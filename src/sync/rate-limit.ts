/** A rate with room for bursts: `perSecond` on average, up to `burst` at once. */
export interface Rate {
  perSecond: number
  burst: number
}

/**
 * A token bucket over a caller-given clock: it starts full, refills at `perSecond`, and `take` says whether
 * `amount` fits now. Pure: no timers, so a session pays nothing while it is idle.
 */
export class TokenBucket {
  private tokens: number
  private lastMs: number

  constructor(
    private readonly rate: Rate,
    nowMs: number,
  ) {
    this.tokens = rate.burst
    this.lastMs = nowMs
  }

  take(amount: number, nowMs: number): boolean {
    const elapsedMs = Math.max(0, nowMs - this.lastMs)
    this.lastMs = nowMs
    this.tokens = Math.min(this.rate.burst, this.tokens + (elapsedMs * this.rate.perSecond) / 1000)
    if (amount > this.tokens) return false
    this.tokens -= amount
    return true
  }
}
