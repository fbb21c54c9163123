import type { Viewer } from '../auth/tokens.js'
import type { Bus } from '../bus/bus.js'
import type { PresenceVisibility } from '../config.js'
import { Errors } from '../errors.js'
import type { Log } from '../log.js'
import type { Store } from '../store/store.js'
import type { PresenceStore, UserPresence } from './store.js'
import { PresenceTracker } from './tracker.js'
import { PresenceWatchers, type PresenceFrame, type Watcher } from './watchers.js'

export const MAX_WATCHES = 100

export interface PresenceInfo {
  userId: string
  online: boolean
  connections: number
  /** ISO time: now while online, else when the last connection closed; null if never connected. */
  lastSeen: string | null
}

export interface PresenceOptions {
  /** Who exists, their stored lastSeen, and who has a conversation with whom (for `contacts`). */
  users: Pick<Store, 'lastSeen' | 'setLastSeen' | 'hasConversation' | 'blockedEitherWay'>
  /** Who is online, shared by the instances. */
  presenceStore: PresenceStore
  bus: Bus
  visibility: PresenceVisibility
  leaseMs: number
  graceMs: number
  /** This instance's connection count of a user. */
  localCount: (userId: string) => number
  /** This instance's connected users and their connection counts. */
  localUsers: () => Iterable<[string, number]>
  frame: PresenceFrame
  log: Log
}

/**
 * Presence as users see it: who is online and when they were last seen, as events to
 * watchers and as answers to queries, within the visibility rule (DUOLOG_PRESENCE_VISIBILITY).
 * The shared state is in the PresenceStore; this instance's part of it in the tracker.
 */
export class Presence {
  private readonly tracker: PresenceTracker
  private readonly watchers: PresenceWatchers

  constructor (private readonly options: PresenceOptions) {
    this.tracker = new PresenceTracker(options.presenceStore, {
      leaseMs: options.leaseMs,
      graceMs: options.graceMs,
      localUsers: options.localUsers,
      onExpired: (userId, lastSeen) => { this.recordLastSeen(userId, lastSeen) },
      log: options.log
    })
    this.watchers = new PresenceWatchers(options.bus, options.frame, options.log)
  }

  /** A connection of userId opened here (after it was registered). */
  connected (userId: string): void {
    this.tracker.connected(userId, this.options.localCount(userId))
  }

  /** A connection of userId closed here (after it was unregistered); it watches nothing any more. */
  disconnected (userId: string, watcher: Watcher): void {
    this.watchers.forget(watcher)
    const count = this.options.localCount(userId)
    // One time for the store's lastSeen and the presence state, so that both tell the same.
    const now = Date.now()
    this.tracker.disconnected(userId, count, now)
    if (count === 0) this.recordLastSeen(userId, now)
  }

  /**
   * Whether `viewer` may see the presence of `target`: services always, users their own and,
   * by DUOLOG_PRESENCE_VISIBILITY, everyone's, nobody's or (the default) their contacts', never
   * that of a user they block or who blocks them.
   */
  async canSee (viewer: Viewer, target: string): Promise<boolean> {
    if (viewer.kind === 'service' || viewer.id === target) return true
    if (this.options.visibility !== 'nobody' && await this.options.users.blockedEitherWay(viewer.id, target)) return false
    switch (this.options.visibility) {
      case 'everyone': return true
      case 'nobody': return false
      case 'contacts': return await this.options.users.hasConversation(viewer.id, target)
    }
  }

  /**
   * Subscribes `watcher` (a connection of user `viewerId`) to presence changes of the users
   * it may see, and sends it their presence now. Users it may not see (or that do not exist)
   * are left out silently.
   */
  async watch (watcher: Watcher, viewerId: string, users: readonly string[]): Promise<void> {
    const fresh = [...new Set(users)].filter((id) => !this.watchers.isWatching(watcher, id))
    if (this.watchers.count(watcher) + fresh.length > MAX_WATCHES) throw new Errors.TooManyWatches(MAX_WATCHES)
    const visible = await this.visible(fresh, { kind: 'user', id: viewerId })
    // Subscribed before the state is read: a change after the read arrives as an event.
    for (const id of visible.keys()) await this.watchers.watch(watcher, id)
    for (const info of await this.infoOf(visible)) watcher.send(this.options.frame(info.userId, info.online, info.lastSeen))
  }

  unwatch (watcher: Watcher, users: readonly string[]): void {
    for (const id of users) this.watchers.unwatch(watcher, id)
  }

  /** Presence of the users among ids that exist and that viewer may see, in the order asked. */
  async query (ids: readonly string[], viewer: Viewer): Promise<PresenceInfo[]> {
    return await this.infoOf(await this.visible(ids, viewer))
  }

  /** Stops renewing this instance's leases (shutdown). */
  close (): void {
    this.tracker.close()
  }

  private recordLastSeen (userId: string, at: number): void {
    this.options.users.setLastSeen(userId, at).catch((err: unknown) => {
      this.options.log.warn({ err, userId }, 'recording lastSeen failed')
    })
  }

  /** The users among ids that exist and that viewer may see, with the lastSeen the store has. */
  private async visible (ids: readonly string[], viewer: Viewer): Promise<Map<string, number | null>> {
    const known = await this.options.users.lastSeen(ids)
    for (const userId of known.keys()) if (!(await this.canSee(viewer, userId))) known.delete(userId)
    return known
  }

  private async infoOf (lastSeen: ReadonlyMap<string, number | null>): Promise<PresenceInfo[]> {
    const states = await this.tracker.state([...lastSeen.keys()])
    const now = Date.now()
    return [...lastSeen].map(([userId, stored]) => {
      const { online, connections, lastAlive } = states.get(userId) as UserPresence
      // Offline: the newest of what the store recorded and of what a lease that ran out (not
      // swept yet) last vouched for.
      const seen = Math.max(stored ?? 0, lastAlive ?? 0)
      return {
        userId,
        online,
        connections,
        lastSeen: online && connections > 0 ? new Date(now).toISOString() : seen === 0 ? null : new Date(seen).toISOString()
      }
    })
  }
}
