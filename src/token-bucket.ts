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

  take (): boolean {
    const now = this.now()
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.capacity / this.windowMs)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}
