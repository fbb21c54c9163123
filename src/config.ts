import { resolve } from 'node:path'
import { Ajv, type ErrorObject } from 'ajv'
import { envSchema } from 'env-schema'
import { Settings, type SettingValues } from './settings.js'
import { ISSUER as DUOLOG_ISSUER } from './auth/tokens.js'
import { isWebhookEventType, WEBHOOK_EVENT_TYPES, type WebhookEventType } from './webhooks/events.js'

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
  /** Origins whose pages may call the REST API (CORS); undefined: no CORS headers. */
  corsOrigins: '*' | string[] | undefined
  /** Origins whose pages may open a WebSocket; undefined: any. */
  allowedOrigins: string[] | undefined
  /** Bearer token for /metrics; undefined: no /metrics. */
  metricsToken: string | undefined
  /** The demo chat page at /. */
  demo: boolean
  /** User tokens from the deployment's own identity provider; undefined: duolog's tokens only. */
  identityProvider: { jwksUrl: string, issuer: string, audience: string, autocreate: boolean } | undefined
  /** Where and what to send as webhooks; undefined: none. */
  webhooks: { url: string, secret: string, events: ReadonlySet<WebhookEventType>, undeliveredMs: number } | undefined
  /** How long after sending a user may edit or delete a message; undefined: always. */
  editWindowMs: number | undefined
  limits: {
    maxContentLength: number
    maxFrameBytes: number
    /** Time a client has to send a whole HTTP request (ms): then 408 and the connection closed. */
    requestTimeoutMs: number
    maxSyncPage: number
    maxHistoryPage: number
    /** Stream and history messages a user may read per second, sustained (per instance); a page costs its limit. */
    readRate: number
    /** Messages a user may read at once before the sustained rate applies. */
    readBurst: number
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

const CLIENT_ID = /^[A-Za-z0-9_.-]{1,64}$/

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

function trustProxy (raw: string): false | number | string[] {
  const value = raw.trim()
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

/** DUOLOG_* variables that belong to the test suite, not to the server. */
const NOT_THE_SERVERS = /^DUOLOG_(TEST_|REQUIRE_SERVICES$)/

const SETTING_NAMES = Object.keys(Settings.properties)

// env-schema's own options (coercion, defaults, its `separator` keyword) plus the
// annotations src/settings.ts writes for README.
const ajv = new Ajv({ allErrors: false, removeAdditional: true, useDefaults: true, coerceTypes: true, allowUnionTypes: true, keywords: [envSchema.keywords.separator] })
ajv.addVocabulary(['shown', 'hint'])

/**
 * Reads the configuration from the environment, validated against src/settings.ts; a bad
 * value, or a DUOLOG_* variable that names no setting (a typo that would otherwise be
 * ignored), throws a one-line ConfigError.
 */
export function loadConfig (env: Env = process.env): Config {
  for (const name of Object.keys(env)) {
    if (!name.startsWith('DUOLOG_') || SETTING_NAMES.includes(name) || NOT_THE_SERVERS.test(name)) continue
    const closest = SETTING_NAMES.filter((known) => known.startsWith('DUOLOG_')).sort((x, y) => distance(name, x) - distance(name, y))[0]
    throw new ConfigError(`${name} is not a duolog setting${closest === undefined ? '' : ` (did you mean ${closest}?)`}`)
  }
  // An empty variable means unset, as in a shell's `X= command`.
  const given: Record<string, string> = {}
  for (const name of SETTING_NAMES) {
    const value = env[name]
    if (value !== undefined && value !== '') given[name] = value
  }
  let values: SettingValues
  try {
    values = envSchema<SettingValues>({ schema: structuredClone(Settings), data: given, env: false, ajv })
  } catch (err) {
    const first = (err as { errors?: ErrorObject[] }).errors?.[0]
    throw first === undefined ? err : new ConfigError(explain(first, given))
  }
  return toConfig(values)
}

/** One line naming the variable, what it must be, and what it was. */
function explain (error: ErrorObject, given: Record<string, string>): string {
  const name = error.instancePath.slice(1)
  const schema = Settings.properties[name as keyof typeof Settings.properties] as { hint?: string, minimum?: number, maximum?: number, anyOf?: Array<{ const: string }> }
  const got = `got "${given[name] ?? ''}"`
  if (schema.anyOf !== undefined) return `${name} must be one of ${schema.anyOf.map((v) => v.const).join(', ')}, ${got}`
  switch (error.keyword) {
    case 'type':
      if (error.params.type === 'integer') return `${name} must be a whole number, ${got}`
      if (error.params.type === 'boolean') return `${name} must be true or false, ${got}`
      break
    case 'minimum':
    case 'maximum':
      return `${name} must be between ${schema.minimum ?? ''} and ${schema.maximum ?? ''}, ${got}`
  }
  return `${name} must be ${schema.hint ?? error.message ?? 'valid'}${error.keyword === 'minLength' ? '' : `, ${got}`}`
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

/** A comma list; undefined when the variable is unset. */
function list (raw: string | undefined): string[] | undefined {
  return raw?.split(',').map((item) => item.trim()).filter((item) => item !== '')
}

/** The settings in the shape the server uses, with the checks that span several variables. */
function toConfig (v: SettingValues): Config {
  const production = v.NODE_ENV === 'production'
  if (production && v.DUOLOG_JWT_SECRET === undefined) {
    throw new ConfigError('DUOLOG_JWT_SECRET is required when NODE_ENV=production')
  }
  return {
    port: v.PORT,
    host: v.HOST,
    trustProxy: trustProxy(v.DUOLOG_TRUST_PROXY),
    production,
    logLevel: v.DUOLOG_LOG_LEVEL,
    // ':memory:' is SQLite in memory (nothing kept, for tools and tests); anything else a path.
    dataDir: v.DUOLOG_DATA_DIR === ':memory:' ? ':memory:' : resolve(v.DUOLOG_DATA_DIR),
    databaseUrl: v.DUOLOG_DATABASE_URL,
    databaseSchema: v.DUOLOG_DATABASE_SCHEMA,
    redisUrl: v.DUOLOG_REDIS_URL,
    redisPrefix: v.DUOLOG_REDIS_PREFIX,
    jwtSecret: v.DUOLOG_JWT_SECRET,
    serviceClients: serviceClients(v.DUOLOG_SERVICE_CLIENTS, production),
    accessTokenTtlSeconds: v.DUOLOG_ACCESS_TOKEN_TTL,
    refreshTokenTtlSeconds: v.DUOLOG_REFRESH_TOKEN_TTL,
    clockToleranceSeconds: v.DUOLOG_CLOCK_TOLERANCE,
    signup: v.DUOLOG_SIGNUP,
    readReceipts: v.DUOLOG_READ_RECEIPTS,
    presenceVisibility: v.DUOLOG_PRESENCE_VISIBILITY,
    presenceGraceMs: v.DUOLOG_PRESENCE_GRACE_MS,
    presenceLeaseMs: v.DUOLOG_PRESENCE_LEASE_MS,
    authRateLimit: v.DUOLOG_AUTH_RATE_LIMIT,
    serviceRateLimit: v.DUOLOG_SERVICE_RATE_LIMIT,
    sqliteSynchronous: v.DUOLOG_SQLITE_SYNCHRONOUS,
    drainMs: v.DUOLOG_DRAIN_MS,
    corsOrigins: corsOrigins(v.DUOLOG_CORS_ORIGINS),
    allowedOrigins: origins('DUOLOG_ALLOWED_ORIGINS', list(v.DUOLOG_ALLOWED_ORIGINS)),
    metricsToken: v.DUOLOG_METRICS_TOKEN,
    demo: v.DUOLOG_DEMO ?? !production,
    identityProvider: identityProvider(v),
    webhooks: webhooks(v),
    editWindowMs: v.DUOLOG_EDIT_WINDOW_S === undefined ? undefined : v.DUOLOG_EDIT_WINDOW_S * 1000,
    limits: {
      maxContentLength: v.DUOLOG_MAX_CONTENT_LENGTH,
      maxFrameBytes: v.DUOLOG_MAX_FRAME_BYTES,
      requestTimeoutMs: v.DUOLOG_REQUEST_TIMEOUT_MS,
      maxSyncPage: v.DUOLOG_MAX_SYNC_PAGE,
      maxHistoryPage: v.DUOLOG_MAX_HISTORY_PAGE,
      readRate: v.DUOLOG_READ_RATE,
      readBurst: v.DUOLOG_READ_BURST,
      sendRate: v.DUOLOG_SEND_RATE,
      sendBurst: v.DUOLOG_SEND_BURST,
      maxConnectionsPerUser: v.DUOLOG_MAX_CONNECTIONS_PER_USER,
      revocationCheckMs: v.DUOLOG_REVOCATION_CHECK_MS
    },
    ws: {
      heartbeatMs: v.DUOLOG_WS_HEARTBEAT_MS,
      authTimeoutMs: v.DUOLOG_WS_AUTH_TIMEOUT_MS,
      maxBufferedBytes: v.DUOLOG_WS_MAX_BUFFERED_BYTES,
      typingPer10s: v.DUOLOG_TYPING_PER_10S,
      typingTimeoutMs: v.DUOLOG_TYPING_TIMEOUT_MS
    }
  }
}

function identityProvider (v: SettingValues): Config['identityProvider'] {
  const { DUOLOG_JWT_JWKS_URL: jwksUrl, DUOLOG_JWT_ISSUER: issuer, DUOLOG_JWT_AUDIENCE: audience } = v
  if (jwksUrl === undefined) {
    if (issuer !== undefined || audience !== undefined) throw new ConfigError('DUOLOG_JWT_ISSUER and DUOLOG_JWT_AUDIENCE need DUOLOG_JWT_JWKS_URL')
    return undefined
  }
  if (issuer === undefined || audience === undefined) throw new ConfigError('DUOLOG_JWT_JWKS_URL needs DUOLOG_JWT_ISSUER and DUOLOG_JWT_AUDIENCE')
  if (issuer === DUOLOG_ISSUER) throw new ConfigError(`DUOLOG_JWT_ISSUER must not be "${DUOLOG_ISSUER}" (the issuer of duolog's own tokens)`)
  return { jwksUrl, issuer, audience, autocreate: v.DUOLOG_JWT_AUTOCREATE }
}

function webhooks (v: SettingValues): Config['webhooks'] {
  const { DUOLOG_WEBHOOK_URL: url, DUOLOG_WEBHOOK_SECRET: secret } = v
  if (url === undefined) {
    if (secret !== undefined || v.DUOLOG_WEBHOOK_EVENTS !== undefined) throw new ConfigError('DUOLOG_WEBHOOK_SECRET and DUOLOG_WEBHOOK_EVENTS need DUOLOG_WEBHOOK_URL')
    return undefined
  }
  if (secret === undefined) throw new ConfigError('DUOLOG_WEBHOOK_URL needs DUOLOG_WEBHOOK_SECRET (whsec_...)')
  const names = list(v.DUOLOG_WEBHOOK_EVENTS) ?? [...WEBHOOK_EVENT_TYPES]
  const unknown = names.find((name) => !isWebhookEventType(name))
  if (unknown !== undefined) throw new ConfigError(`DUOLOG_WEBHOOK_EVENTS: "${unknown}" is not an event; known: ${WEBHOOK_EVENT_TYPES.join(', ')}`)
  return { url, secret, events: new Set(names as WebhookEventType[]), undeliveredMs: v.DUOLOG_WEBHOOK_UNDELIVERED_MS }
}

const ORIGIN = /^https?:\/\/[^/\s]+$/

/** Origins as browsers send them (scheme://host[:port], no path); undefined: not restricted. */
function origins (name: string, values: string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined
  const bad = values.find((o) => !ORIGIN.test(o))
  if (bad !== undefined) throw new ConfigError(`${name} must list origins like https://app.example.com (scheme and host, no path), got "${bad}"`)
  return values.map((o) => o.toLowerCase())
}

function corsOrigins (raw: string | undefined): '*' | string[] | undefined {
  if (raw === '*') return '*'
  return origins('DUOLOG_CORS_ORIGINS', list(raw))
}
