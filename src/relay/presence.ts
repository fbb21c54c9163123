import type { Connection } from './connection.js'
import { presenceFrame } from './frames.js'

export const MAX_WATCHES = 100

/**
 * Presence events of this process: who watches whom, and the grace period after a user's
 * last connection closes, during which the user still counts as online (so that a page
 * reload does not flap). Guarantee: at most once, live only; `watch` always answers with
 * the current state first, so a client that reconnects is up to date again.
 */
export class PresenceHub {
  private readonly watchers = new Map<string, Set<Connection>>()
  private readonly leaving = new Map<string, NodeJS.Timeout>()

  constructor (private readonly graceMs: number) {}

  /** A user's first connection: online, unless they were only reloading. */
  connected (userId: string): void {
    const timer = this.leaving.get(userId)
    if (timer !== undefined) {
      clearTimeout(timer)
      this.leaving.delete(userId)
      return
    }
    this.publish(userId, presenceFrame(userId, true, new Date().toISOString()))
  }

  /** A user's last connection closed: offline after the grace period. */
  disconnected (userId: string): void {
    const lastSeen = new Date().toISOString()
    clearTimeout(this.leaving.get(userId))
    this.leaving.set(userId, setTimeout(() => {
      this.leaving.delete(userId)
      this.publish(userId, presenceFrame(userId, false, lastSeen))
    }, this.graceMs))
  }

  /** Still online for presence purposes (inside the grace period). */
  lingering (userId: string): boolean {
    return this.leaving.has(userId)
  }

  watch (connection: Connection, userId: string): boolean {
    if (connection.watching.has(userId)) return true
    if (connection.watching.size >= MAX_WATCHES) return false
    connection.watching.add(userId)
    let set = this.watchers.get(userId)
    if (set === undefined) this.watchers.set(userId, set = new Set())
    set.add(connection)
    return true
  }

  unwatch (connection: Connection, userId: string): void {
    connection.watching.delete(userId)
    const set = this.watchers.get(userId)
    if (set === undefined) return
    set.delete(connection)
    if (set.size === 0) this.watchers.delete(userId)
  }

  /** The connection closed: forget its watches. */
  forget (connection: Connection): void {
    for (const userId of [...connection.watching]) this.unwatch(connection, userId)
  }

  close (): void {
    for (const timer of this.leaving.values()) clearTimeout(timer)
    this.leaving.clear()
  }

  private publish (userId: string, frame: string): void {
    for (const connection of this.watchers.get(userId) ?? []) connection.send(frame)
  }
}
