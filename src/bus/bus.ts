import type { Log } from '../log.js'

/** Called with each payload published on a channel it listens to. */
export type Listener = (payload: string) => void

/**
 * Cross-instance fan-out: an instance publishes to a channel (src/bus/channels.ts), and every
 * listener on that channel, on every instance, gets the payload. It carries delivery events,
 * kicks, revocations and presence changes between duolog instances.
 *
 * Guarantee: at most once, in publish order per channel and publisher while nothing fails.
 * A payload published while the medium is down, or while a subscriber is reconnecting, is
 * lost. The bus is never the source of truth: the store is, and a connection that sees a
 * gap in its stream reads it from the store.
 */
export interface Bus {
  readonly kind: string
  /** Never rejects: a payload that cannot be published is dropped (and logged). */
  publish (channel: string, payload: string): Promise<void>
  /**
   * Adds a listener to the channel; any number may listen, each is called once per payload.
   * Resolves once this instance receives the channel's payloads.
   */
  subscribe (channel: string, listener: Listener): Promise<void>
  /** Removes that listener (nothing if it does not listen); the last one leaving ends the subscription. */
  unsubscribe (channel: string, listener: Listener): Promise<void>
  close (): Promise<void>
}

/**
 * Subscribes, but waits at most waitMs for it: with the medium down a subscription completes
 * only when it is back, and a caller must not hang until then. Never rejects: a failure is
 * logged with the channel.
 */
export async function subscribeWithin (bus: Bus, channel: string, listener: Listener, waitMs: number, log: Log): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const subscribed = bus.subscribe(channel, listener).catch((err: unknown) => { log.warn({ err, channel }, 'subscribing failed') })
  await Promise.race([subscribed, new Promise((resolve) => { timer = setTimeout(resolve, waitMs) })])
  clearTimeout(timer)
}

/** Unsubscribes in the background; a failure is logged with the channel. */
export function unsubscribeQuietly (bus: Bus, channel: string, listener: Listener, log: Log): void {
  bus.unsubscribe(channel, listener).catch((err: unknown) => { log.warn({ err, channel }, 'unsubscribing failed') })
}

/** The listeners of one bus instance, by channel (both buses keep them the same way). */
export class Listeners {
  private readonly byChannel = new Map<string, Set<Listener>>()

  /** `failed`: told about a listener that threw, so that one bad payload never stops the others. */
  constructor (private readonly failed: (err: unknown, channel: string) => void = () => {}) {}

  /** Adds one; true when it is the channel's first. */
  add (channel: string, listener: Listener): boolean {
    const set = this.byChannel.get(channel)
    if (set !== undefined) {
      set.add(listener)
      return false
    }
    this.byChannel.set(channel, new Set([listener]))
    return true
  }

  /** Removes one; true when it was the channel's last. */
  remove (channel: string, listener: Listener): boolean {
    const set = this.byChannel.get(channel)
    if (set === undefined || !set.delete(listener) || set.size > 0) return false
    this.byChannel.delete(channel)
    return true
  }

  deliver (channel: string, payload: string): void {
    const set = this.byChannel.get(channel)
    if (set === undefined) return
    for (const listener of set) {
      try {
        listener(payload)
      } catch (err) {
        this.failed(err, channel)
      }
    }
  }

  channels (): string[] {
    return [...this.byChannel.keys()]
  }

  clear (): void {
    this.byChannel.clear()
  }
}
