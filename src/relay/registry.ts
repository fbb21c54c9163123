import type { Connection } from './connection.js'

/**
 * The connections of this process, by user. Lookups are O(1) in the number of
 * connected users, so delivery cost does not grow with them.
 * Guarantee: none beyond this process; it holds no state that must survive it.
 */
export class Registry {
  private readonly byUser = new Map<string, Set<Connection>>()
  private total = 0

  /** Adds a connection; true when it is the user's first. */
  add (connection: Connection): boolean {
    let set = this.byUser.get(connection.userId)
    const first = set === undefined
    if (set === undefined) {
      set = new Set()
      this.byUser.set(connection.userId, set)
    }
    if (!set.has(connection)) this.total++
    set.add(connection)
    return first
  }

  /** Removes a connection; true when it was the user's last. */
  remove (connection: Connection): boolean {
    const set = this.byUser.get(connection.userId)
    if (set === undefined || !set.delete(connection)) return false
    this.total--
    if (set.size > 0) return false
    this.byUser.delete(connection.userId)
    return true
  }

  connectionsOf (userId: string): ReadonlySet<Connection> | undefined {
    return this.byUser.get(userId)
  }

  count (userId: string): number {
    return this.byUser.get(userId)?.size ?? 0
  }

  /** Each connected user with their number of connections here. */
  * users (): IterableIterator<[string, number]> {
    for (const [userId, set] of this.byUser) yield [userId, set.size]
  }

  get size (): number {
    return this.total
  }

  /** How many users have a connection here. */
  get userCount (): number {
    return this.byUser.size
  }

  * all (): IterableIterator<Connection> {
    for (const set of this.byUser.values()) yield * set
  }
}
