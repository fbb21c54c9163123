/**
 * Who is online, shared by every duolog instance (centrifuge's PresenceManager): each
 * instance holds a lease per user it has connections for, renewed by `refresh`. A user is
 * online while any instance's lease on them runs; an instance that dies stops renewing, and
 * `sweep` (run by every instance) ends its leases once they run out.
 *
 * Transitions (online, offline) are decided inside the store, atomically, and published on
 * the bus channel `Channels.presence(userId)` in the order they were decided, so watchers on
 * every instance see them in one order. Guarantee: the state (`state`) is right within one
 * lease; the events are at most once, like the bus that carries them, and `watch` always
 * answers with the state first, so a watcher that reconnects is up to date again.
 */
export interface PresenceStore {
  readonly kind: string
  /** `instance` now has `count` (> 0) connections of `userId`; an online event if nobody had the user. */
  connect (instance: string, userId: string, count: number, now: number, expiresAt: number): Promise<void>
  /** The last connection of `userId` on `instance` closed at `now`: online until expiresAt (a reload does not flap). */
  linger (instance: string, userId: string, now: number, expiresAt: number): Promise<void>
  /** The grace ran out: drop the entry unless the user came back; an offline event if no other instance has the user. */
  leave (instance: string, userId: string, now: number): Promise<void>
  /** Renews `instance`'s leases on its connected users; a lease that was swept meanwhile comes back (online again). */
  refresh (instance: string, users: ReadonlyArray<readonly [string, number]>, now: number, expiresAt: number): Promise<void>
  /** Ends leases that ran out; returns the users that went offline by it. Each such user is returned to one caller only. */
  sweep (now: number): Promise<Array<{ userId: string, lastSeen: number }>>
  /** The state of each id (every id gets an entry). */
  state (userIds: readonly string[], now: number): Promise<Map<string, UserPresence>>
  close (): Promise<void>
}

export interface UserPresence {
  online: boolean
  /** Open connections over every instance. */
  connections: number
  /** The newest time an instance last vouched for the user (ms), also after they went offline; null if unknown. */
  lastAlive: number | null
}

/** `1|<ms>` online since, `0|<ms>` offline, last seen at. */
export function decodePresence (payload: string): { online: boolean, at: number } | undefined {
  const at = Number(payload.slice(2))
  if (payload[1] !== '|' || (payload[0] !== '0' && payload[0] !== '1') || !Number.isSafeInteger(at)) return undefined
  return { online: payload[0] === '1', at }
}

export const encodePresence = (online: boolean, at: number): string => `${online ? 1 : 0}|${at}`
