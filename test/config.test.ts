import t from 'tap'
import { readFileSync } from 'node:fs'
import { ConfigError, loadConfig } from '../src/config.js'
import { Settings, settingsTable } from '../src/settings.js'
import { exitOf, spawnServer } from './process.js'
import { tempDir } from './helpers.js'

t.test('defaults', async (t) => {
  const config = loadConfig({})
  t.match(config, { port: 3000, host: '127.0.0.1', signup: 'open', accessTokenTtlSeconds: 900, logLevel: 'info', sqliteSynchronous: 'normal', jwtSecret: undefined, presenceLeaseMs: 15000 })
  t.match(config.limits, { maxContentLength: 4000, maxFrameBytes: 65536 })
  t.ok(config.dataDir.endsWith('/data'))
  t.equal(config.serviceClients.size, 0)
})

t.test('values are parsed', async (t) => {
  const config = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    DUOLOG_SERVICE_CLIENTS: 'billing:0123456789abcdef, crm:fedcba9876543210',
    DUOLOG_SIGNUP: 'service',
    DUOLOG_TRUST_PROXY: '1',
    DUOLOG_SQLITE_SYNCHRONOUS: 'full',
    DUOLOG_ACCESS_TOKEN_TTL: '60',
    DUOLOG_PRESENCE_LEASE_MS: '3000'
  })
  t.match(config, { port: 8080, host: '0.0.0.0', signup: 'service', trustProxy: 1, sqliteSynchronous: 'full', accessTokenTtlSeconds: 60, presenceLeaseMs: 3000 })
  t.same([...config.serviceClients], [['billing', '0123456789abcdef'], ['crm', 'fedcba9876543210']])
})

t.test('bad values are refused with one clear line', async (t) => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /PORT must be a whole number/],
    [{ PORT: '70000' }, /PORT must be between 0 and 65535/],
    [{ DUOLOG_SIGNUP: 'everyone' }, /DUOLOG_SIGNUP must be one of open, service/],
    [{ DUOLOG_LOG_LEVEL: 'loud' }, /DUOLOG_LOG_LEVEL/],
    [{ DUOLOG_JWT_SECRET: 'short' }, /^DUOLOG_JWT_SECRET must be at least 32 characters$/],
    [{ NODE_ENV: 'production' }, /DUOLOG_JWT_SECRET is required/],
    [{ DUOLOG_SERVICE_CLIENTS: 'nocolon' }, /DUOLOG_SERVICE_CLIENTS must be/],
    [{ DUOLOG_SERVICE_CLIENTS: 'a:x,a:y' }, /lists "a" twice/],
    [{ NODE_ENV: 'production', DUOLOG_JWT_SECRET: 'x'.repeat(40), DUOLOG_SERVICE_CLIENTS: 'a:short' }, /at least 16 characters in production/],
    [{ DUOLOG_TRUST_PROXY: 'maybe' }, /a number of proxies, or addresses/],
    [{ DUOLOG_TRUST_PROXY: 'true' }, /would believe any client's X-Forwarded-For/],
    [{ DUOLOG_ACCESS_TOKEN_TTL: '0' }, /between 1/],
    [{ DUOLOG_REFRESH_TOKEN_TTL: '5' }, /between 60/],
    [{ DUOLOG_PRESENCE_LEASE_MS: '100' }, /DUOLOG_PRESENCE_LEASE_MS must be between 300/],
    [{ DUOLOG_READ_RECEIPTS: 'yes' }, /DUOLOG_READ_RECEIPTS must be true or false, got "yes"/],
    [{ DUOLOG_DATABASE_URL: 'mysql://x' }, /DUOLOG_DATABASE_URL must be a postgres:\/\/ URL/],
    [{ DUOLOG_REDIS_URL: 'http://x' }, /DUOLOG_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ DUOLOG_DATABASE_SCHEMA: 'Bad-Name' }, /DUOLOG_DATABASE_SCHEMA must be a lower-case SQL name/],
    [{ DUOLOG_SEND_RATE: '2.5' }, /DUOLOG_SEND_RATE must be a whole number/]
  ]
  for (const [env, message] of bad) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
  }
  t.ok(new ConfigError('x') instanceof Error)
})

t.test('the process exits non-zero with one line on a bad value', async (t) => {
  const child = spawnServer({ PORT: 'eighty', DUOLOG_DATA_DIR: tempDir() })
  const { code, stderr } = await exitOf(child)
  t.equal(code, 1)
  t.equal(stderr, 'duolog: PORT must be a whole number, got "eighty"\n')
})

t.test('a DUOLOG_* variable that names no setting is an error that names the closest one', async (t) => {
  t.throws(() => loadConfig({ DUOLOG_SINGUP: 'service' }), { name: 'ConfigError', message: 'DUOLOG_SINGUP is not a duolog setting (did you mean DUOLOG_SIGNUP?)' },
    'a typo no longer leaves sign-up open in silence')
  t.throws(() => loadConfig({ DUOLOG_SEND_RATES: '5' }), { message: /did you mean DUOLOG_SEND_RATE\?/ })
  t.doesNotThrow(() => loadConfig({ DUOLOG_TEST_REDIS_URL: 'redis://x', DUOLOG_REQUIRE_SERVICES: '1', OTHER_THING: 'x' }), 'the test suite\'s variables and others\' are left alone')
})

t.test('README\'s configuration table is the one src/settings.ts declares', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  t.ok(readme.includes(settingsTable()), 'stale: run `npm run settings-table`')
  const table = [...readme.matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1] as string)
  t.same(table, Object.keys(Settings.properties), 'every setting, in order, and nothing else')
  for (const name of table) t.doesNotThrow(() => loadConfig({ [name]: '' }), `${name} (in README's table) is a setting`)
})

t.test('the demo page: on by default, off in production unless asked for', async (t) => {
  const production = { NODE_ENV: 'production', DUOLOG_JWT_SECRET: 'x'.repeat(32) }
  t.equal(loadConfig({}).demo, true)
  t.equal(loadConfig({ DUOLOG_DEMO: 'false' }).demo, false)
  t.equal(loadConfig(production).demo, false)
  t.equal(loadConfig({ ...production, DUOLOG_DEMO: 'true' }).demo, true)
})

t.test('origins and the metrics token', async (t) => {
  t.match(loadConfig({}), { corsOrigins: undefined, allowedOrigins: undefined, metricsToken: undefined })
  t.match(loadConfig({ DUOLOG_CORS_ORIGINS: 'https://App.example.com, http://localhost:5173', DUOLOG_ALLOWED_ORIGINS: 'https://app.example.com' }),
    { corsOrigins: ['https://app.example.com', 'http://localhost:5173'], allowedOrigins: ['https://app.example.com'] })
  t.equal(loadConfig({ DUOLOG_CORS_ORIGINS: '*' }).corsOrigins, '*')
  t.throws(() => loadConfig({ DUOLOG_ALLOWED_ORIGINS: 'https://app.example.com/path' }), { message: /DUOLOG_ALLOWED_ORIGINS must list origins/ })
  t.throws(() => loadConfig({ DUOLOG_CORS_ORIGINS: 'app.example.com' }), { message: /DUOLOG_CORS_ORIGINS must list origins/ })
  t.throws(() => loadConfig({ DUOLOG_METRICS_TOKEN: 'short' }), { message: 'DUOLOG_METRICS_TOKEN must be at least 16 characters' }, 'the message does not repeat the token')
  t.equal(loadConfig({ DUOLOG_METRICS_TOKEN: 'm'.repeat(16) }).metricsToken, 'm'.repeat(16))
})

t.test('an identity provider needs its issuer and audience; webhooks need their secret and known events', async (t) => {
  const idp = { DUOLOG_JWT_JWKS_URL: 'https://idp.example.com/jwks.json', DUOLOG_JWT_ISSUER: 'https://idp.example.com/', DUOLOG_JWT_AUDIENCE: 'app' }
  t.same(loadConfig(idp).identityProvider, { jwksUrl: idp.DUOLOG_JWT_JWKS_URL, issuer: idp.DUOLOG_JWT_ISSUER, audience: 'app', autocreate: true })
  t.throws(() => loadConfig({ ...idp, DUOLOG_JWT_AUDIENCE: undefined }), { message: 'DUOLOG_JWT_JWKS_URL needs DUOLOG_JWT_ISSUER and DUOLOG_JWT_AUDIENCE' })
  t.throws(() => loadConfig({ DUOLOG_JWT_ISSUER: 'x' }), { message: /need DUOLOG_JWT_JWKS_URL/ })
  t.throws(() => loadConfig({ ...idp, DUOLOG_JWT_ISSUER: 'duolog' }), { message: /must not be "duolog"/ })
  t.throws(() => loadConfig({ ...idp, DUOLOG_JWT_JWKS_URL: 'file:///etc/keys' }), { message: /DUOLOG_JWT_JWKS_URL must be an http\(s\):\/\/ URL/ })

  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
  const hooks = loadConfig({ DUOLOG_WEBHOOK_URL: 'https://backend.example.com/hooks', DUOLOG_WEBHOOK_SECRET: secret })
  t.same([...hooks.webhooks?.events ?? []], ['message.created', 'message.undelivered', 'message.read', 'message.edited', 'message.deleted', 'user.deleted'])
  t.equal(hooks.webhooks?.undeliveredMs, 10_000)
  t.same([...loadConfig({ DUOLOG_WEBHOOK_URL: 'https://b.example.com', DUOLOG_WEBHOOK_SECRET: secret, DUOLOG_WEBHOOK_EVENTS: 'message.undelivered, user.deleted' }).webhooks?.events ?? []],
    ['message.undelivered', 'user.deleted'])
  t.throws(() => loadConfig({ DUOLOG_WEBHOOK_URL: 'https://b.example.com' }), { message: /needs DUOLOG_WEBHOOK_SECRET/ })
  t.throws(() => loadConfig({ DUOLOG_WEBHOOK_URL: 'https://b.example.com', DUOLOG_WEBHOOK_SECRET: 'not-a-secret' }), { message: /DUOLOG_WEBHOOK_SECRET must be whsec_/ })
  t.throws(() => loadConfig({ DUOLOG_WEBHOOK_URL: 'https://b.example.com', DUOLOG_WEBHOOK_SECRET: secret, DUOLOG_WEBHOOK_EVENTS: 'message.sent' }), { message: /"message.sent" is not an event/ })
  t.equal(loadConfig({}).editWindowMs, undefined)
  t.equal(loadConfig({ DUOLOG_EDIT_WINDOW_S: '900' }).editWindowMs, 900_000)
})
