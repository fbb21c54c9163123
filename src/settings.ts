import { Type, type Static, type TBoolean, type TInteger, type TLiteral, type TOptional, type TSchema, type TString, type TUnion } from '@sinclair/typebox'

/**
 * Every environment variable duolog reads, declared once: the start-up validation, the
 * defaults, the unknown-variable check and README's configuration table all come from here.
 * Values arrive as strings; validation coerces them (integers, booleans). `shown` is the
 * default as README shows it when there is no plain one (a generated secret, "none").
 */

interface Doc { description: string, shown?: string, hint?: string }

interface TextDoc extends Doc { pattern?: string, minLength?: number }

const whole = (fallback: number, minimum: number, maximum: number, doc: Doc): TInteger =>
  Type.Integer({ default: fallback, minimum, maximum, ...doc })
const flag = (fallback: boolean, doc: Doc): TBoolean => Type.Boolean({ default: fallback, ...doc })
const choice = <const T extends string>(values: readonly T[], fallback: T, doc: Doc): TUnion<Array<TLiteral<T>>> =>
  Type.Union(values.map((v) => Type.Literal(v)), { default: fallback, ...doc })
const text = (fallback: string, doc: TextDoc): TString => Type.String({ default: fallback, ...doc })
/** A flag whose default depends on another setting (said in its description). */
const optionalFlag = (doc: Doc): TOptional<TBoolean> => Type.Optional(Type.Boolean(doc))
/** A variable with no default: unset means the feature is off (or, for the secret, generated). */
const optionalText = (doc: TextDoc): TOptional<TString> => Type.Optional(Type.String(doc))

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
const MIN_SECRET_LENGTH = 32
const MIN_METRICS_TOKEN_LENGTH = 16

export const Settings = Type.Object({
  PORT: whole(3000, 0, 65535, { description: 'HTTP and WebSocket port' }),
  HOST: text('127.0.0.1', { description: 'address to listen on (`0.0.0.0` in the Docker image)' }),
  NODE_ENV: optionalText({ shown: '', description: '`production` requires `DUOLOG_JWT_SECRET` and service secrets of 16+ characters' }),
  DUOLOG_DATA_DIR: text('./data', { description: 'where the SQLite file (`duolog.db`) and a generated JWT secret live; a directory that has a secret but no database (or a database that is not duolog\'s) is refused at start' }),
  DUOLOG_DATABASE_URL: optionalText({ pattern: '^postgres(ql)?://', hint: 'a postgres:// URL', description: '`postgres://...`: use PostgreSQL instead of SQLite (migrations run on start)' }),
  DUOLOG_DATABASE_SCHEMA: text('public', { pattern: '^[a-z_][a-z0-9_]{0,62}$', hint: 'a lower-case SQL name', description: 'the PostgreSQL schema for duolog\'s tables' }),
  DUOLOG_REDIS_URL: optionalText({ pattern: '^rediss?://', hint: 'a redis:// or rediss:// URL', description: '`redis://...`: fan out between instances over Redis pub/sub instead of in-process' }),
  DUOLOG_REDIS_PREFIX: text('duolog:', { description: 'prefix of duolog\'s Redis channels and keys (several deployments can share one Redis)' }),
  DUOLOG_JWT_SECRET: optionalText({ minLength: MIN_SECRET_LENGTH, hint: `at least ${MIN_SECRET_LENGTH} characters`, shown: 'generated', description: `HS256 secret, at least ${MIN_SECRET_LENGTH} characters` }),
  DUOLOG_SERVICE_CLIENTS: optionalText({ description: 'service clients for backends, `id:secret[,id:secret...]`' }),
  DUOLOG_JWT_JWKS_URL: optionalText({ pattern: '^https?://', hint: 'an http(s):// URL', shown: 'none', description: 'accept user access tokens signed by your own identity provider (RS256, ES256 or EdDSA; keys from this JWKS URL, cached, fetched again for an unknown `kid`): a token whose `iss` is `DUOLOG_JWT_ISSUER` is checked against it, `sub` is the user id. duolog\'s own login keeps working beside it' }),
  DUOLOG_JWT_ISSUER: optionalText({ shown: 'none', description: 'the `iss` your identity provider\'s tokens carry (required with `DUOLOG_JWT_JWKS_URL`; not `duolog`)' }),
  DUOLOG_JWT_AUDIENCE: optionalText({ shown: 'none', description: 'the `aud` your identity provider\'s tokens must carry (required with `DUOLOG_JWT_JWKS_URL`)' }),
  DUOLOG_JWT_AUTOCREATE: flag(true, { description: 'a user first seen in an identity provider\'s token is created (display name from its `name` claim, no password); `false`: such a token is refused (401) until a service creates the user' }),
  DUOLOG_ACCESS_TOKEN_TTL: whole(900, 1, 24 * 24 * 3600, { description: 'access token lifetime, seconds (at most 24 days)' }),
  DUOLOG_REFRESH_TOKEN_TTL: whole(30 * 24 * 3600, 60, 365 * 24 * 3600, { description: 'refresh token lifetime, seconds (30 days)' }),
  DUOLOG_CLOCK_TOLERANCE: whole(5, 0, 300, { description: 'leeway for `exp` checks, seconds' }),
  DUOLOG_SIGNUP: choice(['open', 'service'], 'open', { description: '`open`: anyone may create a user; `service`: only service clients' }),
  DUOLOG_READ_RECEIPTS: flag(true, { description: '`false`: read markers still count unread messages, but peers are not told' }),
  DUOLOG_PRESENCE_VISIBILITY: choice(['contacts', 'everyone', 'nobody'], 'contacts', { description: 'whose presence a user sees: `contacts` (users they exchanged a message with), `everyone` or `nobody`; services see all' }),
  DUOLOG_PRESENCE_GRACE_MS: whole(5_000, 0, 600_000, { description: 'a user stays online this long after the last connection closes (no flap on reload)' }),
  DUOLOG_PRESENCE_LEASE_MS: whole(15_000, 300, 600_000, { description: 'with several instances: how long an instance\'s word that a user is online lasts (renewed every third of it); the users of an instance that dies go offline within this plus 1 s. Give every instance the same value' }),
  DUOLOG_LOG_LEVEL: choice(LOG_LEVELS, 'info', { description: LOG_LEVELS.map((l) => `\`${l}\``).join(', ') }),
  DUOLOG_AUTH_RATE_LIMIT: whole(30, 1, 1_000_000, { description: 'requests per minute per client address on sign-up, login, refresh and service token; besides, after 5 failed logins for one account id (existing or not, any case), each further try waits 1 s, 2 s, 4 s... up to 15 min (429 `rate_limited`), until a login succeeds' }),
  DUOLOG_SERVICE_RATE_LIMIT: whole(6000, 1, 10_000_000, { description: 'requests per minute per service client on sign-up with a service token (instead of the anonymous limit)' }),
  DUOLOG_TRUST_PROXY: text('false', { description: 'whose `X-Forwarded-For` gives the client address (for the per-address limits): `false`, the number of proxies in front (`1` behind one load balancer that sets the header itself, as `deploy/nginx.conf` does), or their addresses and ranges (`10.0.0.0/8,...`); `true` (everyone) is refused' }),
  DUOLOG_CORS_ORIGINS: optionalText({ shown: 'none', description: 'origins whose pages may call the REST API from a browser (CORS), comma-separated (`https://app.example.com,...`), or `*` for any; unset: no CORS headers, so browsers allow only same-origin pages' }),
  DUOLOG_ALLOWED_ORIGINS: optionalText({ shown: 'any', description: 'origins whose pages may open a WebSocket, comma-separated; an upgrade with another `Origin` header gets 403 `origin_not_allowed` before it is upgraded (clients that send no `Origin`, such as backends and apps, are not affected); unset: any origin' }),
  DUOLOG_METRICS_TOKEN: optionalText({ minLength: MIN_METRICS_TOKEN_LENGTH, hint: `at least ${MIN_METRICS_TOKEN_LENGTH} characters`, shown: 'none', description: `bearer token for Prometheus \`GET /metrics\` on the main port (at least ${MIN_METRICS_TOKEN_LENGTH} characters); unset: \`/metrics\` answers 404` }),
  DUOLOG_WEBHOOK_URL: optionalText({ pattern: '^https?://', hint: 'an http(s):// URL', shown: 'none', description: 'where events are POSTed, signed per Standard Webhooks (docs/webhooks.md); unset: no webhooks' }),
  DUOLOG_WEBHOOK_SECRET: optionalText({ pattern: '^whsec_[A-Za-z0-9+/=]{20,}$', hint: 'whsec_ and a base64 key of 15+ bytes', shown: 'none', description: 'the signing secret, `whsec_` and a base64 key (required with `DUOLOG_WEBHOOK_URL`)' }),
  DUOLOG_WEBHOOK_EVENTS: optionalText({ shown: 'all', description: 'the events to send, comma-separated: `message.created`, `message.undelivered`, `message.read`, `message.edited`, `message.deleted`, `user.deleted`' }),
  DUOLOG_WEBHOOK_UNDELIVERED_MS: whole(10_000, 100, 24 * 3600_000, { description: '`message.undelivered` is sent when no device of the recipient acknowledged a message within this many ms' }),
  DUOLOG_EDIT_WINDOW_S: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 * 365 * 24 * 3600, shown: 'none', description: 'how long after sending a user may edit or delete a message, seconds (services are not limited); unset: no limit' })),
  DUOLOG_DEMO: optionalFlag({ shown: 'on (off in production)', description: 'the demo chat page at `/` (sign up, log in, chat, on the client SDK); unset: on, except with `NODE_ENV=production`' }),
  DUOLOG_SQLITE_SYNCHRONOUS: choice(['normal', 'full'], 'normal', { description: '`normal` survives a killed process; `full` also survives a power loss (an fsync per commit)' }),
  DUOLOG_MAX_CONTENT_LENGTH: whole(4000, 1, 1_000_000, { description: 'characters per message' }),
  DUOLOG_MAX_FRAME_BYTES: whole(64 * 1024, 1024, 16 * 1024 * 1024, { description: 'largest WebSocket frame (larger: close 1009) and HTTP body (larger: 413)' }),
  DUOLOG_REQUEST_TIMEOUT_MS: whole(30_000, 100, 600_000, { description: 'time a client has to send a whole HTTP request, headers and body; a slower one gets 408 `request_timeout` and its connection is closed, so that stalled clients cannot hold connections (checked every 5 s, or every half of this when shorter; WebSockets are not affected once open)' }),
  DUOLOG_MAX_SYNC_PAGE: whole(500, 1, 10_000, { description: 'most messages per `sync` / `GET /v1/sync` page' }),
  DUOLOG_MAX_HISTORY_PAGE: whole(200, 1, 10_000, { description: 'most messages per conversation history page' }),
  DUOLOG_READ_RATE: whole(2000, 1, 10_000_000, { description: 'messages per second a user may read from their stream and history, sustained, per server (each page counts as its `limit`: `sync` frames, including a connection\'s replay from `after`, `GET /v1/sync` and history together); a `sync` past it waits its turn, an HTTP read gets 429 `rate_limited` with `Retry-After`. Keeps one user\'s heavy reading from slowing others' }),
  DUOLOG_READ_BURST: whole(5000, 1, 10_000_000, { description: 'messages a user may read at once before `DUOLOG_READ_RATE` applies (a page larger than this counts as this)' }),
  DUOLOG_SEND_RATE: whole(20, 1, 1_000_000, { description: 'messages per second a user may send, sustained, per server (WebSocket and HTTP together; a service sending as the user is not counted); the excess gets `rate_limited` (429 with `Retry-After` over HTTP, answered after that wait, at most 1 s), and the sender\'s socket is not read until it may send again' }),
  DUOLOG_SEND_BURST: whole(60, 1, 1_000_000, { description: 'messages a user may send at once before `DUOLOG_SEND_RATE` applies' }),
  DUOLOG_DRAIN_MS: whole(3_000, 0, 60_000, { description: 'on SIGTERM (not on Ctrl-C), how long `/readyz` answers 503 `shutting_down` while everything else is still served (so a load balancer moves traffic away), before sockets close with 4000 and the process exits (a WebSocket client that has not answered the close within 2 s is cut off, and so is an HTTP request not finished within 5 s; answers given while closing end their connection)' }),
  DUOLOG_REVOCATION_CHECK_MS: whole(5_000, 100, 10_000, { description: 'how often each instance reads the session revocations its bus may have missed (100 to 10000): the longest a logged-out or revoked session\'s sockets and tokens last anywhere' }),
  DUOLOG_MAX_CONNECTIONS_PER_USER: whole(20, 1, 1_000_000, { description: 'WebSocket connections per user per server; the next closes with 4508 `too_many_connections`' }),
  DUOLOG_WS_HEARTBEAT_MS: whole(30_000, 50, 3_600_000, { description: 'ping interval; a connection that misses a ping is dropped by the next (so within 2 intervals)' }),
  DUOLOG_WS_AUTH_TIMEOUT_MS: whole(5_000, 50, 600_000, { description: 'time for the first `auth` frame when the upgrade carried no token' }),
  DUOLOG_WS_MAX_BUFFERED_BYTES: whole(8 * 1024 * 1024, 1024, 1024 * 1024 * 1024, { description: 'unsent bytes a connection may queue before it is closed (4003)' }),
  DUOLOG_TYPING_PER_10S: whole(10, 1, 1000, { description: 'typing frames a connection may send per 10 s; the excess is dropped silently' }),
  DUOLOG_TYPING_TIMEOUT_MS: whole(6_000, 50, 600_000, { description: 'a typing `start` with no `stop` ends after this' })
})

/** The environment after validation: defaults filled in, numbers and booleans coerced. */
export type SettingValues = Static<typeof Settings>

/** README's configuration table, rows in declaration order. */
export function settingsTable (): string {
  const rows = Object.entries(Settings.properties).map(([name, schema]) => {
    const s = schema as TSchema & Doc & { default?: unknown }
    const shown = s.shown ?? (s.default === undefined ? 'none' : `\`${String(s.default)}\``)
    return `| \`${name}\` | ${shown} | ${s.description} |`
  })
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n')
}
