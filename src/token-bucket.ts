/**
 * A token bucket: `capacity` events at once, refilled evenly over `windowMs`. What it
 * refuses is the caller's to drop or answer.
 */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor (private readonly capacity: number, private readonly windowMs: number, private readonly now: () => number = Date.now) {
    this.tokens = capacity
    this.last = now()
  }

  /** Takes `count` tokens (at most the capacity) if there are that many. */
  take (count = 1): boolean {
    this.refill()
    if (this.tokens < count) return false
    this.tokens -= count
    return true
  }

  /** How long until take(count) succeeds (0: now). */
  waitMs (count = 1): number {
    this.refill()
    return this.tokens >= count ? 0 : Math.ceil((count - this.tokens) * this.windowMs / this.capacity)
  }

  /** Whether the bucket is back to its capacity (nothing taken lately): it can be forgotten. */
  full (): boolean {
    this.refill()
    return this.tokens >= this.capacity
  }

  private refill (): void {
    const now = this.now()
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.capacity / this.windowMs)
    this.last = now
  }
}
