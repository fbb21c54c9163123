import { Channels } from '../bus/channels.js'
import { encodePresence, type PresenceStore, type UserPresence } from './store.js'

interface Entry {
  /** Connections on the instance; 0 while lingering after the last one closed. */
  count: number
  /** When the instance last vouched for the user. */
  aliveAt: number
  expiresAt: number
}

/**
 * The embedded default: presence in this process's memory. The same algorithm as the Redis
 * store (and the same contract suite, test/presence/contract.ts), with events published on
 * the in-process bus. One object is the shared state of every instance that uses it.
 */
export class MemoryPresence implements PresenceStore {
  readonly kind = 'memory'
  /** userId -> instance -> entry */
  private readonly users = new Map<string, Map<string, Entry>>()
  /** lastSeen of each user's last offline transition. */
  private readonly seen = new Map<string, number>()
  /**
   * No entry expires before this (a lower bound: renewals only push expiries later). A sweep
   * before it has nothing to do, so the once-a-second sweep walks every user only when some
   * lease may have run out (with 19,000 users, each walk took milliseconds).
   */
  private nextExpiry = Infinity

  constructor (private readonly publish: (channel: string, payload: string) => void) {}

  private othersLive (userId: string, instance: string | undefined, now: number): boolean {
    for (const [holder, entry] of this.users.get(userId) ?? []) {
      if (holder !== instance && entry.expiresAt > now) return true
    }
    return false
  }

  /** Sets an instance's entry for a user, in place when there is one (renewals make no garbage). */
  private put (userId: string, instance: string, count: number, aliveAt: number, expiresAt: number): void {
    let entries = this.users.get(userId)
    if (entries === undefined) this.users.set(userId, entries = new Map())
    const entry = entries.get(instance)
    if (entry === undefined) {
      entries.set(instance, { count, aliveAt, expiresAt })
    } else {
      entry.count = count
      entry.aliveAt = aliveAt
      entry.expiresAt = expiresAt
    }
    if (expiresAt < this.nextExpiry) this.nextExpiry = expiresAt
  }

  /** No live entry left: drop the expired ones and publish offline at the newest lastSeen. */
  private settle (userId: string, now: number, seen: number): number | undefined {
    const entries = this.users.get(userId)
    for (const entry of entries?.values() ?? []) {
      if (entry.expiresAt > now) return undefined
      seen = Math.max(seen, entry.aliveAt)
    }
    this.users.delete(userId)
    this.seen.set(userId, seen)
    this.publish(Channels.presence(userId), encodePresence(false, seen))
    return seen
  }

  async connect (instance: string, userId: string, count: number, now: number, expiresAt: number): Promise<void> {
    const wasOnline = this.othersLive(userId, undefined, now)
    this.put(userId, instance, count, now, expiresAt)
    if (!wasOnline) this.publish(Channels.presence(userId), encodePresence(true, now))
  }

  async linger (instance: string, userId: string, now: number, expiresAt: number): Promise<void> {
    this.put(userId, instance, 0, now, expiresAt)
  }

  async leave (instance: string, userId: string, now: number): Promise<void> {
    const entry = this.users.get(userId)?.get(instance)
    if (entry === undefined || entry.count !== 0) return
    this.users.get(userId)?.delete(instance)
    this.settle(userId, now, entry.aliveAt)
  }

  async refresh (instance: string, users: ReadonlyArray<readonly [string, number]>, now: number, expiresAt: number): Promise<void> {
    for (const [userId, count] of users) {
      const back = this.users.get(userId)?.get(instance) === undefined && !this.othersLive(userId, instance, now)
      this.put(userId, instance, count, now, expiresAt)
      if (back) this.publish(Channels.presence(userId), encodePresence(true, now))
    }
  }

  async sweep (now: number): Promise<Array<{ userId: string, lastSeen: number }>> {
    const offline: Array<{ userId: string, lastSeen: number }> = []
    if (now < this.nextExpiry) return offline
    // Entries put while this walks (a listener of an offline event) lower it again.
    this.nextExpiry = Infinity
    let next = Infinity
    // (Deleting the entry being visited is safe in a Map's iteration.)
    for (const [userId, entries] of this.users) {
      let seen = 0
      for (const [instance, entry] of entries) {
        if (entry.expiresAt > now) {
          if (entry.expiresAt < next) next = entry.expiresAt
          continue
        }
        entries.delete(instance)
        seen = Math.max(seen, entry.aliveAt)
      }
      if (seen === 0) continue
      const lastSeen = this.settle(userId, now, seen)
      if (lastSeen !== undefined) offline.push({ userId, lastSeen })
    }
    this.nextExpiry = Math.min(this.nextExpiry, next)
    return offline
  }

  async state (userIds: readonly string[], now: number): Promise<Map<string, UserPresence>> {
    const result = new Map<string, UserPresence>()
    for (const userId of userIds) {
      let online = false
      let connections = 0
      let lastAlive = this.seen.get(userId) ?? null
      for (const entry of this.users.get(userId)?.values() ?? []) {
        if (entry.expiresAt > now) {
          online = true
          connections += entry.count
        }
        lastAlive = Math.max(lastAlive ?? 0, entry.aliveAt)
      }
      result.set(userId, { online, connections, lastAlive })
    }
    return result
  }

  async close (): Promise<void> {}
}
