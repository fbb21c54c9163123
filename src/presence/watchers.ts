import { subscribeWithin, unsubscribeQuietly, type Bus, type Listener } from '../bus/bus.js'
import { Channels } from '../bus/channels.js'
import type { Log } from '../log.js'
import { decodePresence } from './store.js'

/** How long a watch waits for its bus subscription before going on anyway (as a connection does). */
const SUBSCRIBE_WAIT_MS = 1000

/** Whoever watches presence: a connection, as far as presence is concerned. */
export interface Watcher {
  send (frame: string): void
}

/** Builds the frame a watcher gets for a presence change. */
export type PresenceFrame = (userId: string, online: boolean, lastSeen: string | null) => string

/**
 * Who watches whom on this instance. The instance subscribes to a user's presence channel
 * on the first local watcher and unsubscribes after the last, and passes each event to
 * every local watcher.
 */
export class PresenceWatchers {
  private readonly byTarget = new Map<string, { watchers: Set<Watcher>, listener: Listener }>()
  private readonly byWatcher = new Map<Watcher, Set<string>>()

  constructor (private readonly bus: Bus, private readonly frame: PresenceFrame, private readonly log: Log) {}

  /** How many users `watcher` watches. */
  count (watcher: Watcher): number {
    return this.byWatcher.get(watcher)?.size ?? 0
  }

  isWatching (watcher: Watcher, userId: string): boolean {
    return this.byWatcher.get(watcher)?.has(userId) ?? false
  }

  async watch (watcher: Watcher, userId: string): Promise<void> {
    let mine = this.byWatcher.get(watcher)
    if (mine === undefined) this.byWatcher.set(watcher, mine = new Set())
    if (mine.has(userId)) return
    mine.add(userId)
    const target = this.byTarget.get(userId)
    if (target !== undefined) {
      target.watchers.add(watcher)
      return
    }
    const listener: Listener = (payload) => { this.deliver(userId, payload) }
    this.byTarget.set(userId, { watchers: new Set([watcher]), listener })
    await subscribeWithin(this.bus, Channels.presence(userId), listener, SUBSCRIBE_WAIT_MS, this.log)
  }

  unwatch (watcher: Watcher, userId: string): void {
    const mine = this.byWatcher.get(watcher)
    if (mine === undefined || !mine.delete(userId)) return
    if (mine.size === 0) this.byWatcher.delete(watcher)
    const target = this.byTarget.get(userId)
    if (target === undefined) return
    target.watchers.delete(watcher)
    if (target.watchers.size > 0) return
    this.byTarget.delete(userId)
    unsubscribeQuietly(this.bus, Channels.presence(userId), target.listener, this.log)
  }

  /** The watcher is gone (its connection closed): forget its watches. */
  forget (watcher: Watcher): void {
    for (const userId of [...this.byWatcher.get(watcher) ?? []]) this.unwatch(watcher, userId)
  }

  private deliver (userId: string, payload: string): void {
    const event = decodePresence(payload)
    const target = this.byTarget.get(userId)
    if (event === undefined || target === undefined) return
    const frame = this.frame(userId, event.online, new Date(event.at).toISOString())
    for (const watcher of target.watchers) watcher.send(frame)
  }
}
