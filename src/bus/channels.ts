/**
 * Every bus channel and Redis key name duolog uses, built here and nowhere else. On Redis,
 * each is prefixed with the deployment's DUOLOG_REDIS_PREFIX (redisName), so that several
 * deployments can share one Redis.
 */

const USER = 'u:'
const PRESENCE = 'p:'

export const Channels = {
  /** A user's stream entries, transient frames (receipts, typing) and kicks: relay/events.ts. */
  user: (userId: string): string => USER + userId,
  /** A user's presence transitions, published by the PresenceStore: presence/store.ts. */
  presence: (userId: string): string => PRESENCE + userId,
  /** Ids of login sessions that ended, for every instance's revocation list: auth/sessions.ts. */
  sessionsRevoked: 'sessions:revoked'
} as const

/**
 * Redis keys of the Redis presence store (its Lua scripts append the user id or nothing),
 * and the presence channel's start, which the scripts PUBLISH to.
 */
export const RedisNames = {
  presenceLeases: 'presence:leases',
  presenceUser: 'presence:u:',
  presenceSeen: 'presence:seen:',
  presenceChannel: PRESENCE
} as const

/** The Redis name of a channel or key: the deployment's prefix, then the name. */
export const redisName = (prefix: string, name: string): string => prefix + name
