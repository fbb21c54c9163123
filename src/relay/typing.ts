import { Errors } from '../errors.js'
import { TokenBucket } from '../token-bucket.js'
import type { Store } from '../store/store.js'
import { typingFrame } from './frames.js'
import type { Hub } from './hub.js'

export interface TypingOptions {
  /** A `start` with no `stop` ends after this. */
  timeoutMs: number
  /** Typing frames a connection may send per 10 seconds; more are dropped silently. */
  per10s: number
}

/** Typing indicators: shown on every connected device of the recipient, never stored. */
export class Typing {
  constructor (
    private readonly users: Pick<Store, 'getUser' | 'blockedEitherWay'>,
    private readonly hub: Pick<Hub, 'sendTo'>,
    private readonly options: TypingOptions
  ) {}

  /** The indicators one connection of `from` starts and stops. */
  forConnection (from: string): TypingIndicators {
    return new TypingIndicators(from, new TokenBucket(this.options.per10s, 10_000), this.options.timeoutMs, this)
  }

  /** Throws unless `to` is another, existing user. */
  async checkRecipient (from: string, to: string): Promise<void> {
    if (to === from) throw new Errors.InvalidRecipient('a typing indicator goes to another user, not to its sender')
    if (await this.users.getUser(to) === undefined) throw new Errors.UnknownRecipient(to)
  }

  /** Whether a block (either way) hides typing between the two. */
  async hidden (from: string, to: string): Promise<boolean> {
    return await this.users.blockedEitherWay(from, to)
  }

  show (from: string, to: string, state: 'start' | 'stop'): void {
    this.hub.sendTo(to, typingFrame(from, state))
  }
}

/**
 * The typing indicators one connection has started: each ends with the client's `stop`,
 * after the timeout, or when the connection closes, whichever comes first.
 */
export class TypingIndicators {
  private readonly timers = new Map<string, NodeJS.Timeout>()

  constructor (
    private readonly from: string,
    private readonly limit: TokenBucket,
    private readonly timeoutMs: number,
    private readonly typing: Typing
  ) {}

  async change (to: string, state: 'start' | 'stop'): Promise<void> {
    // Over the limit: dropped without an answer, so a flood costs the peer nothing.
    if (!this.limit.take()) return
    await this.typing.checkRecipient(this.from, to)
    // Dropped without an answer: the typer is not told of the block.
    if (await this.typing.hidden(this.from, to)) return
    clearTimeout(this.timers.get(to))
    if (state === 'start') {
      this.timers.set(to, setTimeout(() => { this.timers.delete(to); this.typing.show(this.from, to, 'stop') }, this.timeoutMs))
    } else {
      this.timers.delete(to)
    }
    this.typing.show(this.from, to, state)
  }

  /** Stops every indicator still running (the connection closed). */
  stopAll (): void {
    for (const [to, timer] of this.timers) {
      clearTimeout(timer)
      this.typing.show(this.from, to, 'stop')
    }
    this.timers.clear()
  }
}
