import { TokenBucket } from './token-bucket.js'

/** How often buckets back at full capacity are forgotten, so that the map holds active users only. */
const SWEEP_MS = 60_000

/**
 * A token bucket per key (a user id): `burst` at once, then `perSecond` sustained.
 * take() answers 0 when allowed, else how many ms until the key may try again.
 */
export class KeyedLimits {
  private readonly buckets = new Map<string, TokenBucket>()
  private lastSweep: number

  constructor (private readonly perSecond: number, private readonly burst: number, private readonly now: () => number = Date.now) {
    this.lastSweep = now()
  }

  /** `cost`: how many events this is (a page of messages); more than the burst counts as the burst. */
  take (key: string, cost = 1): number {
    const count = Math.min(cost, this.burst)
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      this.sweep()
      bucket = new TokenBucket(this.burst, this.burst * 1000 / this.perSecond, this.now)
      this.buckets.set(key, bucket)
    }
    return bucket.take(count) ? 0 : bucket.waitMs(count)
  }

  private sweep (): void {
    const now = this.now()
    if (now - this.lastSweep < SWEEP_MS) return
    this.lastSweep = now
    for (const [key, bucket] of this.buckets) if (bucket.full()) this.buckets.delete(key)
  }
}

/** Keys barred for a while (a user whose connection was closed for ignoring its rate). */
export class Cooldowns {
  private readonly until = new Map<string, number>()

  constructor (private readonly now: () => number = Date.now) {}

  start (key: string, ms: number): void {
    const now = this.now()
    // Forget the expired ones now and then, so that the map holds current ones only.
    if (this.until.size > 1000) for (const [k, t] of this.until) if (t <= now) this.until.delete(k)
    this.until.set(key, now + ms)
  }

  /** How many ms the key is still barred (0: not barred). */
  remaining (key: string): number {
    const until = this.until.get(key)
    if (until === undefined) return 0
    const left = until - this.now()
    if (left > 0) return left
    this.until.delete(key)
    return 0
  }
}
