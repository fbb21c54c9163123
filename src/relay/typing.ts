/**
 * A token bucket: `capacity` events at once, refilled evenly over `windowMs`.
 * Used per connection for typing frames; what it refuses is dropped silently.
 */
export class RateLimit {
  private tokens: number
  private last = Date.now()

  constructor (private readonly capacity: number, private readonly windowMs: number) {
    this.tokens = capacity
  }

  take (): boolean {
    const now = Date.now()
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.capacity / this.windowMs)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

/**
 * The typing indicators one connection has started: each ends with the client's `stop`,
 * after the timeout, or when the connection closes, whichever comes first.
 */
export class TypingState {
  private readonly timers = new Map<string, NodeJS.Timeout>()

  constructor (private readonly timeoutMs: number, private readonly emit: (to: string, state: 'start' | 'stop') => void) {}

  change (to: string, state: 'start' | 'stop'): void {
    clearTimeout(this.timers.get(to))
    if (state === 'start') {
      this.timers.set(to, setTimeout(() => { this.timers.delete(to); this.emit(to, 'stop') }, this.timeoutMs))
    } else {
      this.timers.delete(to)
    }
    this.emit(to, state)
  }

  /** Stops every indicator still running (the connection closed). */
  stopAll (): void {
    for (const [to, timer] of this.timers) {
      clearTimeout(timer)
      this.emit(to, 'stop')
    }
    this.timers.clear()
  }
}
