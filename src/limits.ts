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
