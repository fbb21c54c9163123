import { resolve } from 'node:path'

/** Thrown for a bad environment: the message is one line, meant for a human. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

export type SignupMode = 'open' | 'service'
export type PresenceVisibility = 'contacts' | 'everyone' | 'nobody'
export type SqliteSynchronous = 'normal' | 'full'

export interface Config {
  port: number
  host: string
  /**
   * Whose X-Forwarded-For to believe for client addresses: nobody (false), the number of
   * proxies in front (their last hops), or the proxies' addresses and ranges. Never everyone.
   */
  trustProxy: false | number | string[]
  production: boolean
  logLevel: string
  dataDir: string
  /** PostgreSQL instead of SQLite (several instances share it). */
  databaseUrl: string | undefined
  databaseSchema: string
  /** Redis for cross-instance fan-out; without it, the in-process bus. */
  redisUrl: string | undefined
  redisPrefix: string
  /** Undefined means: generate one and keep it in dataDir (refused in production). */
  jwtSecret: string | undefined
  /** clientId -> secret */
  serviceClients: Map<string, string>
  accessTokenTtlSeconds: number
  refreshTokenTtlSeconds: number
  clockToleranceSeconds: number
  signup: SignupMode
  /** Tell a peer when their messages are read (markers are kept either way). */
  readReceipts: boolean
  /** Whose presence a user may see: users they have a conversation with, everyone, or nobody. */
  presenceVisibility: PresenceVisibility
  /** How long a user stays online after their last connection closes (a reload does not flap). */
  presenceGraceMs: number
  /**
   * How long an instance's word that a user is online lasts without renewal (renewed every
   * third of it): a user of an instance that dies goes offline within this plus one second.
   */
  presenceLeaseMs: number
  /** Requests per minute per client address on login, token and sign-up routes. */
  authRateLimit: number
  /** Requests per minute per service client on the routes DUOLOG_AUTH_RATE_LIMIT guards (sign-up with a service token). */
  serviceRateLimit: number
  sqliteSynchronous: SqliteSynchronous
  /** On SIGTERM, how long /readyz answers 503 while everything else is still served, before closing. */
  drainMs: number
  limits: {
    maxContentLength: number
    maxFrameBytes: number
    maxSyncPage: number
    maxHistoryPage: number
    /** Messages per second a user may send, sustained (per instance); services sending as a user are not counted. */
    sendRate: number
    /** Messages a user may send at once before the sustained rate applies. */
    sendBurst: number
    /** WebSocket connections a user may hold on one instance; more are closed with 4508. */
    maxConnectionsPerUser: number
    /** How often each instance reads the revocations its bus may have missed: the longest a revoked session's sockets and tokens last. */
    revocationCheckMs: number
  }
  ws: {
    heartbeatMs: number
    authTimeoutMs: number
    /** A connection whose unsent backlog passes this is closed (4003, reconnect and sync). */
    maxBufferedBytes: number
    /** Typing frames a connection may send per 10 seconds; more are dropped silently. */
    typingPer10s: number
    /** A typing `start` with no `stop` counts as stopped after this long. */
    typingTimeoutMs: number
  }
}

export type Env = Record<string, string | undefined>

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const MIN_SECRET_LENGTH = 32
const CLIENT_ID = /^[A-Za-z0-9_.-]{1,64}$/

function integer (env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`)
  const value = Number(raw.trim())
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`)
  return value
}

function flag (env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (raw === 'true' || raw === '1') return true
  if (raw === 'false' || raw === '0') return false
  throw new ConfigError(`${name} must be true or false, got "${raw}"`)
}

function oneOf<T extends string> (env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`)
  }
  return raw as T
}

function serviceClients (raw: string | undefined, production: boolean): Map<string, string> {
  const clients = new Map<string, string>()
  if (raw === undefined || raw.trim() === '') return clients
  for (const entry of raw.split(',')) {
    const at = entry.indexOf(':')
    const id = entry.slice(0, at).trim()
    const secret = entry.slice(at + 1).trim()
    if (at < 0 || !CLIENT_ID.test(id) || secret === '') {
      throw new ConfigError(`DUOLOG_SERVICE_CLIENTS must be "id:secret[,id:secret...]" with ids matching ${CLIENT_ID.source}`)
    }
    if (production && secret.length < 16) {
      throw new ConfigError(`DUOLOG_SERVICE_CLIENTS: the secret of "${id}" must be at least 16 characters in production`)
    }
    if (clients.has(id)) throw new ConfigError(`DUOLOG_SERVICE_CLIENTS lists "${id}" twice`)
    clients.set(id, secret)
  }
  return clients
}

const ADDRESS_OR_RANGE = /^[0-9A-Fa-f:.]+(\/\d{1,3})?$/

function trustProxy (raw: string | undefined): false | number | string[] {
  const value = raw?.trim() ?? ''
  if (value === '' || value === 'false' || value === '0') return false
  if (/^\d+$/.test(value)) return Number(value)
  if (value === 'true') {
    throw new ConfigError('DUOLOG_TRUST_PROXY=true would believe any client\'s X-Forwarded-For: give the number of proxies in front (e.g. 1) or their addresses')
  }
  const addresses = value.split(',').map((a) => a.trim())
  const bad = addresses.find((a) => !ADDRESS_OR_RANGE.test(a))
  if (bad !== undefined) throw new ConfigError(`DUOLOG_TRUST_PROXY must be false, a number of proxies, or addresses and ranges (10.0.0.0/8,...), got "${bad}"`)
  return addresses
}

/** An absolute path, or ':memory:' (SQLite in memory: nothing kept, for tools and tests). */
function dataDir (raw: string | undefined): string {
  if (raw === ':memory:') return raw
  return resolve(raw === undefined || raw === '' ? './data' : raw)
}

function databaseUrl (raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined
  if (!/^postgres(ql)?:\/\//.test(raw)) throw new ConfigError('DUOLOG_DATABASE_URL must be a postgres:// URL')
  return raw
}

function redisUrl (raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined
  if (!/^rediss?:\/\//.test(raw)) throw new ConfigError('DUOLOG_REDIS_URL must be a redis:// or rediss:// URL')
  return raw
}

function schemaName (raw: string | undefined): string {
  if (raw === undefined || raw === '') return 'public'
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw)) throw new ConfigError('DUOLOG_DATABASE_SCHEMA must be a lower-case SQL name')
  return raw
}

/** Reads and validates the environment. Throws ConfigError with one line on the first bad value. */
/** DUOLOG_* variables that belong to the test suite, not to the server. */
const NOT_THE_SERVERS = /^DUOLOG_(TEST_|REQUIRE_SERVICES$)/

/**
 * Reads the configuration from the environment; a bad value, or a DUOLOG_* variable that
 * names no setting (a typo that would otherwise be ignored), throws a one-line ConfigError.
 */
export function loadConfig (env: Env = process.env): Config {
  // The settings are the variables the reading below asks for: recorded as it asks.
  const read = new Set<string>()
  const config = readConfig(new Proxy(env, { get: (target, name) => { if (typeof name === 'string') read.add(name); return target[name as string] } }))
  for (const name of Object.keys(env)) {
    if (!name.startsWith('DUOLOG_') || read.has(name) || NOT_THE_SERVERS.test(name)) continue
    const closest = [...read].filter((known) => known.startsWith('DUOLOG_')).sort((x, y) => distance(name, x) - distance(name, y))[0]
    throw new ConfigError(`${name} is not a duolog setting${closest === undefined ? '' : ` (did you mean ${closest}?)`}`)
  }
  return config
}

/** Edit distance (insertions, deletions, substitutions) between two names. */
function distance (a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next.push(Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1)))
    }
    row = next
  }
  return row[b.length] as number
}

function readConfig (env: Env): Config {
  const production = env.NODE_ENV === 'production'
  const jwtSecret = env.DUOLOG_JWT_SECRET === '' ? undefined : env.DUOLOG_JWT_SECRET
  if (jwtSecret !== undefined && jwtSecret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`DUOLOG_JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters`)
  }
  if (production && jwtSecret === undefined) {
    throw new ConfigError('DUOLOG_JWT_SECRET is required when NODE_ENV=production')
  }
  const logLevel = oneOf(env, 'DUOLOG_LOG_LEVEL', 'info', LOG_LEVELS)
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: env.HOST === undefined || env.HOST === '' ? '127.0.0.1' : env.HOST,
    trustProxy: trustProxy(env.DUOLOG_TRUST_PROXY),
    production,
    logLevel,
    dataDir: dataDir(env.DUOLOG_DATA_DIR),
    databaseUrl: databaseUrl(env.DUOLOG_DATABASE_URL),
    databaseSchema: schemaName(env.DUOLOG_DATABASE_SCHEMA),
    redisUrl: redisUrl(env.DUOLOG_REDIS_URL),
    redisPrefix: env.DUOLOG_REDIS_PREFIX === undefined || env.DUOLOG_REDIS_PREFIX === '' ? 'duolog:' : env.DUOLOG_REDIS_PREFIX,
    jwtSecret,
    serviceClients: serviceClients(env.DUOLOG_SERVICE_CLIENTS, production),
    accessTokenTtlSeconds: integer(env, 'DUOLOG_ACCESS_TOKEN_TTL', 900, 1, 24 * 24 * 3600),
    refreshTokenTtlSeconds: integer(env, 'DUOLOG_REFRESH_TOKEN_TTL', 30 * 24 * 3600, 60, 365 * 24 * 3600),
    clockToleranceSeconds: integer(env, 'DUOLOG_CLOCK_TOLERANCE', 5, 0, 300),
    signup: oneOf<SignupMode>(env, 'DUOLOG_SIGNUP', 'open', ['open', 'service']),
    readReceipts: flag(env, 'DUOLOG_READ_RECEIPTS', true),
    presenceVisibility: oneOf<PresenceVisibility>(env, 'DUOLOG_PRESENCE_VISIBILITY', 'contacts', ['contacts', 'everyone', 'nobody']),
    presenceGraceMs: integer(env, 'DUOLOG_PRESENCE_GRACE_MS', 5_000, 0, 600_000),
    presenceLeaseMs: integer(env, 'DUOLOG_PRESENCE_LEASE_MS', 15_000, 300, 600_000),
    authRateLimit: integer(env, 'DUOLOG_AUTH_RATE_LIMIT', 30, 1, 1_000_000),
    serviceRateLimit: integer(env, 'DUOLOG_SERVICE_RATE_LIMIT', 6000, 1, 10_000_000),
    sqliteSynchronous: oneOf<SqliteSynchronous>(env, 'DUOLOG_SQLITE_SYNCHRONOUS', 'normal', ['normal', 'full']),
    drainMs: integer(env, 'DUOLOG_DRAIN_MS', 3_000, 0, 60_000),
    limits: {
      maxContentLength: integer(env, 'DUOLOG_MAX_CONTENT_LENGTH', 4000, 1, 1_000_000),
      maxFrameBytes: integer(env, 'DUOLOG_MAX_FRAME_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
      maxSyncPage: integer(env, 'DUOLOG_MAX_SYNC_PAGE', 500, 1, 10_000),
      maxHistoryPage: integer(env, 'DUOLOG_MAX_HISTORY_PAGE', 200, 1, 10_000),
      sendRate: integer(env, 'DUOLOG_SEND_RATE', 20, 1, 1_000_000),
      sendBurst: integer(env, 'DUOLOG_SEND_BURST', 60, 1, 1_000_000),
      maxConnectionsPerUser: integer(env, 'DUOLOG_MAX_CONNECTIONS_PER_USER', 20, 1, 1_000_000),
      revocationCheckMs: integer(env, 'DUOLOG_REVOCATION_CHECK_MS', 5_000, 100, 10_000)
    },
    ws: {
      heartbeatMs: integer(env, 'DUOLOG_WS_HEARTBEAT_MS', 30_000, 50, 3_600_000),
      authTimeoutMs: integer(env, 'DUOLOG_WS_AUTH_TIMEOUT_MS', 5_000, 50, 600_000),
      maxBufferedBytes: integer(env, 'DUOLOG_WS_MAX_BUFFERED_BYTES', 8 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
      typingPer10s: integer(env, 'DUOLOG_TYPING_PER_10S', 10, 1, 1000),
      typingTimeoutMs: integer(env, 'DUOLOG_TYPING_TIMEOUT_MS', 6_000, 50, 600_000)
    }
  }
}
