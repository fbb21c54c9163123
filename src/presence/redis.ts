import { Redis } from 'ioredis'
import { RedisNames } from '../bus/channels.js'
import type { Log } from '../log.js'
import type { PresenceStore, UserPresence } from './store.js'

export interface RedisPresenceOptions {
  url: string
  /** The deployment's prefix: keys and the presence channel are named in bus/channels.ts after it. */
  prefix: string
  log: Log
}

/*
 * Keys (one Redis, not Redis Cluster: the scripts name keys they compute; names from RedisNames):
 *   <prefix>presence:leases      ZSET  member "<instance>|<userId>", score = lease end (ms)
 *   <prefix>presence:u:<userId>  HASH  field <instance> = "<connections>:<aliveAt ms>"
 *   <prefix>presence:seen:<userId>  STRING  lastSeen (ms) of the last offline transition, kept a day:
 *                                 it answers `state` until the store has the same lastSeen
 * Every change runs as one script, so two instances never both decide a transition, and the
 * event is published (PUBLISH inside the script) in the order the transitions happened.
 */
const lua = JSON.stringify
const HELPERS = `
local prefix = ARGV[1]
local leases = prefix .. ${lua(RedisNames.presenceLeases)}
local function userKey (user) return prefix .. ${lua(RedisNames.presenceUser)} .. user end
local function seenKey (user) return prefix .. ${lua(RedisNames.presenceSeen)} .. user end
local function aliveAt (value) return tonumber(string.match(value, ':(%d+)$')) end
local function othersLive (user, instance, now)
  for _, holder in ipairs(redis.call('HKEYS', userKey(user))) do
    if holder ~= instance then
      local score = redis.call('ZSCORE', leases, holder .. '|' .. user)
      if score and tonumber(score) > now then return true end
    end
  end
  return false
end
local function publish (user, online, at)
  redis.call('PUBLISH', prefix .. ${lua(RedisNames.presenceChannel)} .. user, (online and '1|' or '0|') .. string.format('%d', at))
end
-- No live entry left: drop the expired ones and publish offline at the newest lastSeen.
local function settle (user, now, seen)
  local key = userKey(user)
  local entries = redis.call('HGETALL', key)
  for i = 1, #entries, 2 do
    local score = redis.call('ZSCORE', leases, entries[i] .. '|' .. user)
    if score and tonumber(score) > now then return nil end
  end
  for i = 1, #entries, 2 do
    seen = math.max(seen, aliveAt(entries[i + 1]))
    redis.call('ZREM', leases, entries[i] .. '|' .. user)
  end
  redis.call('DEL', key)
  redis.call('SET', seenKey(user), string.format('%d', seen), 'PX', 86400000)
  publish(user, false, seen)
  return seen
end
`

const SCRIPTS = {
  // ARGV: prefix, instance, user, count, now, expiresAt
  presenceConnect: `
local instance, user, now = ARGV[2], ARGV[3], tonumber(ARGV[5])
local wasOnline = othersLive(user, nil, now)
redis.call('HSET', userKey(user), instance, ARGV[4] .. ':' .. ARGV[5])
redis.call('ZADD', leases, ARGV[6], instance .. '|' .. user)
if not wasOnline then publish(user, true, now) end
return 0`,
  // ARGV: prefix, instance, user, now, expiresAt
  presenceLinger: `
local instance, user = ARGV[2], ARGV[3]
redis.call('HSET', userKey(user), instance, '0:' .. ARGV[4])
redis.call('ZADD', leases, ARGV[5], instance .. '|' .. user)
return 0`,
  // ARGV: prefix, instance, user, now
  presenceLeave: `
local instance, user, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local value = redis.call('HGET', userKey(user), instance)
if not value or string.sub(value, 1, 2) ~= '0:' then return 0 end
redis.call('HDEL', userKey(user), instance)
redis.call('ZREM', leases, instance .. '|' .. user)
settle(user, now, aliveAt(value))
return 0`,
  // ARGV: prefix, instance, now, expiresAt, then user, count pairs
  presenceRefresh: `
local instance, now = ARGV[2], tonumber(ARGV[3])
for i = 5, #ARGV, 2 do
  local user = ARGV[i]
  local back = redis.call('ZADD', leases, ARGV[4], instance .. '|' .. user) == 1
  if back and not othersLive(user, instance, now) then publish(user, true, now) end
  redis.call('HSET', userKey(user), instance, ARGV[i + 1] .. ':' .. ARGV[3])
end
return 0`,
  // ARGV: prefix, now, limit
  presenceSweep: `
local now = tonumber(ARGV[2])
local offline = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))) do
  -- An earlier settle of this run may have ended it already.
  if redis.call('ZREM', leases, member) == 1 then
    local bar = string.find(member, '|', 1, true)
    local instance, user = string.sub(member, 1, bar - 1), string.sub(member, bar + 1)
    local value = redis.call('HGET', userKey(user), instance)
    redis.call('HDEL', userKey(user), instance)
    local seen = settle(user, now, value and aliveAt(value) or 0)
    if seen then
      offline[#offline + 1] = user
      offline[#offline + 1] = string.format('%d', seen)
    end
  end
end
return offline`,
  // ARGV: prefix, now, users...
  presenceState: `
local now = tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV do
  local user = ARGV[i]
  local entries = redis.call('HGETALL', userKey(user))
  local online, connections, alive = 0, 0, tonumber(redis.call('GET', seenKey(user)) or '-1')
  for j = 1, #entries, 2 do
    local score = redis.call('ZSCORE', leases, entries[j] .. '|' .. user)
    if score and tonumber(score) > now then
      online = 1
      connections = connections + tonumber(string.match(entries[j + 1], '^(%d+):'))
    end
    alive = math.max(alive, aliveAt(entries[j + 1]))
  end
  out[#out + 1] = online
  out[#out + 1] = connections
  out[#out + 1] = string.format('%d', alive)
end
return out`
} as const

type ScriptName = keyof typeof SCRIPTS
type Scripted = Redis & Record<ScriptName, (...args: Array<string | number>) => Promise<unknown>>

/** Users swept per call: bounded, so one script never holds Redis for long. */
const SWEEP_LIMIT = 1000

/**
 * Presence in Redis, shared by the instances of a deployment (see PresenceStore). Its own
 * connection with an offline queue off: while Redis is down a call fails at once, and the
 * next refresh puts this instance's leases back.
 */
export class RedisPresence implements PresenceStore {
  readonly kind = 'redis'
  private readonly redis: Scripted

  constructor (private readonly options: RedisPresenceOptions) {
    const redis = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(50 * times, 2000)
    })
    redis.on('error', (err: Error) => { options.log.warn({ err: err.message }, 'redis presence') })
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 0, lua: HELPERS + lua })
    this.redis = redis as Scripted
  }

  /** Resolves once connected (for tests). */
  async ready (): Promise<void> {
    if (this.redis.status !== 'ready') await new Promise((resolve) => this.redis.once('ready', resolve))
  }

  async connect (instance: string, userId: string, count: number, now: number, expiresAt: number): Promise<void> {
    await this.redis.presenceConnect(this.options.prefix, instance, userId, count, now, expiresAt)
  }

  async linger (instance: string, userId: string, now: number, expiresAt: number): Promise<void> {
    await this.redis.presenceLinger(this.options.prefix, instance, userId, now, expiresAt)
  }

  async leave (instance: string, userId: string, now: number): Promise<void> {
    await this.redis.presenceLeave(this.options.prefix, instance, userId, now)
  }

  async refresh (instance: string, users: ReadonlyArray<readonly [string, number]>, now: number, expiresAt: number): Promise<void> {
    if (users.length === 0) return
    await this.redis.presenceRefresh(this.options.prefix, instance, now, expiresAt, ...users.flat())
  }

  async sweep (now: number): Promise<Array<{ userId: string, lastSeen: number }>> {
    const flat = await this.redis.presenceSweep(this.options.prefix, now, SWEEP_LIMIT) as string[]
    const offline: Array<{ userId: string, lastSeen: number }> = []
    for (let i = 0; i < flat.length; i += 2) offline.push({ userId: flat[i] as string, lastSeen: Number(flat[i + 1]) })
    return offline
  }

  async state (userIds: readonly string[], now: number): Promise<Map<string, UserPresence>> {
    const result = new Map<string, UserPresence>()
    if (userIds.length === 0) return result
    const flat = await this.redis.presenceState(this.options.prefix, now, ...userIds) as Array<number | string>
    userIds.forEach((userId, i) => {
      const alive = Number(flat[i * 3 + 2])
      result.set(userId, { online: flat[i * 3] === 1, connections: Number(flat[i * 3 + 1]), lastAlive: alive < 0 ? null : alive })
    })
    return result
  }

  async close (): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch((err: unknown) => { this.options.log.warn({ err }, 'closing redis presence failed') })
    else this.redis.disconnect()
  }
}
