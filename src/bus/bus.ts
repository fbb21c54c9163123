/**
 * Cross-instance fan-out: an instance publishes to a channel (a user), and every instance
 * that subscribed to it gets the payload. It carries delivery events, kicks and presence
 * changes between duolog instances.
 *
 * Guarantee: at most once, in publish order per channel and publisher while nothing fails.
 * A payload published while the medium is down, or while a subscriber is reconnecting, is
 * lost. The bus is never the source of truth: the store is, and a connection that sees a
 * gap in its stream reads it from the store.
 */
export interface Bus {
  readonly kind: string
  /** Never rejects: a payload that cannot be published is dropped (and logged by the caller's logger). */
  publish (channel: string, payload: string): Promise<void>
  /** Starts delivering the channel's payloads to handler (one handler per channel per instance). */
  subscribe (channel: string, handler: (payload: string) => void): Promise<void>
  unsubscribe (channel: string): Promise<void>
  close (): Promise<void>
}

/**
 * Subscribes, but waits at most waitMs for it: with the medium down a subscription completes
 * only when it is back, and a caller must not hang until then. Never rejects (onError hears).
 */
export async function subscribeWithin (bus: Bus, channel: string, handler: (payload: string) => void, waitMs: number, onError: (err: unknown) => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const subscribed = bus.subscribe(channel, handler).catch(onError)
  await Promise.race([subscribed, new Promise((resolve) => { timer = setTimeout(resolve, waitMs) })])
  clearTimeout(timer)
}
