import t from 'tap'
import { createHmac } from 'node:crypto'
import WebSocket from 'ws'
import { Client, JWT_SECRET, SERVICE_ID, SERVICE_SECRET, api, serviceToken, sleep, startServer, users } from '../helpers.js'

function b64 (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** Signs claims by hand, to forge what a library would refuse to make. */
function forge (header: Record<string, unknown>, claims: Record<string, unknown>, secret = JWT_SECRET): string {
  const unsigned = `${b64(header)}.${b64(claims)}`
  if (header.alg === 'none') return `${unsigned}.`
  const algorithm = header.alg === 'HS512' ? 'sha512' : 'sha256'
  return `${unsigned}.${createHmac(algorithm, secret).update(unsigned).digest('base64url')}`
}

const now = (): number => Math.floor(Date.now() / 1000)
const good = (overrides: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ sub: 'alice', kind: 'user', sid: 'a-session', iss: 'duolog', aud: 'duolog', iat: now(), exp: now() + 600, ...overrides })

t.test('sign-up, login and the same 401 for a wrong id or password', async (t) => {
  const server = await startServer(t)
  const created = await api(server, 'POST', '/v1/users', { body: { id: 'alice', password: 'correct horse', displayName: 'Alice' } })
  t.equal(created.status, 201)
  t.match(created.body, { id: 'alice', displayName: 'Alice' })
  t.ok(Date.parse(created.body.createdAt))
  t.equal(created.body.password, undefined, 'no password echoed')

  t.match(await api(server, 'POST', '/v1/users', { body: { id: 'alice', password: 'another one' } }), { status: 409, body: { error: { code: 'user_exists' } } })
  t.match(await api(server, 'POST', '/v1/users', { body: { id: 'bad id', password: 'password1' } }), { status: 400, body: { error: { code: 'invalid_request' } } })
  t.match(await api(server, 'POST', '/v1/users', { body: { id: 'x'.repeat(65), password: 'password1' } }), { status: 400 })
  t.match(await api(server, 'POST', '/v1/users', { body: { id: 'nopass' } }), { status: 400, body: { error: { code: 'invalid_request' } } },
    'a user needs a password unless a service creates it')
  t.match(await api(server, 'POST', '/v1/users', { body: { id: 'short', password: 'short' } }), { status: 400 })

  const login = await api(server, 'POST', '/v1/auth/login', { body: { id: 'alice', password: 'correct horse' } })
  t.equal(login.status, 200)
  t.match(login.body, { tokenType: 'Bearer', expiresIn: 900 })
  const wrongPassword = await api(server, 'POST', '/v1/auth/login', { body: { id: 'alice', password: 'wrong horse' } })
  const wrongId = await api(server, 'POST', '/v1/auth/login', { body: { id: 'mallory', password: 'correct horse' } })
  t.equal(wrongPassword.status, 401)
  t.same(wrongId.body, wrongPassword.body, 'no way to tell an unknown id from a wrong password')

  const a = await Client.connect(server, login.body.accessToken)
  t.equal(a.frames[0]?.userId, 'alice', 'the login token opens a WebSocket')
})

t.test('a wrong id and a wrong password take the same time', async (t) => {
  const server = await startServer(t)
  await api(server, 'POST', '/v1/users', { body: { id: 'alice', password: 'correct horse' } })
  const time = async (id: string): Promise<number> => {
    const start = process.hrtime.bigint()
    await api(server, 'POST', '/v1/auth/login', { body: { id, password: 'wrong horse' } })
    return Number(process.hrtime.bigint() - start) / 1e6
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  const known: number[] = []
  const unknown: number[] = []
  for (let i = 0; i < 7; i++) { known.push(await time('alice')); unknown.push(await time('nobody')) }
  // Both run one scrypt; without the decoy hash the unknown id would answer in well under a millisecond.
  t.ok(median(unknown) > median(known) / 3, `unknown ${median(unknown).toFixed(1)}ms vs known ${median(known).toFixed(1)}ms`)
})

t.test('service clients', async (t) => {
  const server = await startServer(t)
  const bad = await api(server, 'POST', '/v1/auth/token', { body: { clientId: SERVICE_ID, clientSecret: 'wrong' } })
  t.match(bad, { status: 401, body: { error: { code: 'unauthorized' } } })
  t.match(await api(server, 'POST', '/v1/auth/token', { body: { clientId: 'nobody', clientSecret: SERVICE_SECRET } }), { status: 401 })
  const service = await serviceToken(server)

  t.match(await api(server, 'POST', '/v1/users', { token: service, body: { id: 'carol' } }), { status: 201 }, 'a service creates a password-less user')
  t.match(await api(server, 'POST', '/v1/auth/login', { body: { id: 'carol', password: 'anything at all' } }), { status: 401 }, 'who cannot log in with a password')
  const minted = await api(server, 'POST', '/v1/users/carol/tokens', { token: service })
  t.match(minted, { status: 200, body: { tokenType: 'Bearer', expiresIn: 900 } })
  t.match(await api(server, 'POST', '/v1/users/nobody/tokens', { token: service }), { status: 404 })

  const [dave] = await users(server, 'dave')
  t.match(await api(server, 'POST', '/v1/users/carol/tokens', { token: dave }), { status: 403, body: { error: { code: 'forbidden' } } }, 'users cannot mint tokens')

  const carol = await Client.connect(server, minted.body.accessToken)
  const sent = await api(server, 'POST', '/v1/messages', { token: service, body: { from: 'dave', to: 'carol', content: 'from the backend' } })
  t.match(sent, { status: 201, body: { from: 'dave', to: 'carol', seq: 1 } }, 'a service sends as any user')
  t.match(await carol.next('message'), { from: 'dave', content: 'from the backend' })
  t.match(await api(server, 'POST', '/v1/messages', { token: service, body: { to: 'carol', content: 'x' } }), { status: 400 }, 'a service must say whom it sends as')
  t.match(await api(server, 'POST', '/v1/messages', { token: service, body: { from: 'ghost', to: 'carol', content: 'x' } }), { status: 404 })
  t.match(await api(server, 'GET', '/v1/presence/carol', { token: service }), { status: 200, body: { online: true } }, 'a service queries presence')

  await t.rejects(Client.connect(server, service), /unexpected response 403/, 'the WebSocket is for users, not services')
  const serviceByFrame = await Client.connect(server, service, { via: 'frame', waitReady: false })
  t.same(await serviceByFrame.closed, { code: 4502, reason: 'user_token_required' })
})

t.test('sign-up for services only', async (t) => {
  const server = await startServer(t, { DUOLOG_SIGNUP: 'service' })
  t.match(await api(server, 'POST', '/v1/users', { body: { id: 'alice', password: 'correct horse' } }), { status: 403, body: { error: { code: 'signup_closed' } } })
  const service = await serviceToken(server)
  t.match(await api(server, 'POST', '/v1/users', { token: service, body: { id: 'alice', password: 'correct horse' } }), { status: 201 })
  t.match(await api(server, 'POST', '/v1/auth/login', { body: { id: 'alice', password: 'correct horse' } }), { status: 200 })
})

t.test('impersonation and forged tokens are refused', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob', 'carol')
  const b = await Client.connect(server, bob)

  t.match(await api(server, 'POST', '/v1/messages', { token: alice, body: { from: 'carol', to: 'bob', content: 'I am carol' } }), { status: 403, body: { error: { code: 'forbidden' } } },
    'a user cannot send as another user over HTTP')
  const a = await Client.connect(server, alice)
  a.send({ type: 'send', from: 'carol', to: 'bob', content: 'I am carol' })
  await a.next('sent')
  t.match(await b.next('message'), { from: 'alice' }, 'a `from` in a send frame is ignored: the sender is the token\'s user')

  const forged: Array<[string, string]> = [
    ['signed with another secret', forge({ alg: 'HS256', typ: 'JWT' }, good(), 'some-other-secret-that-is-long-enough')],
    ['alg none', forge({ alg: 'none', typ: 'JWT' }, good())],
    ['alg HS512 with the right secret', forge({ alg: 'HS512', typ: 'JWT' }, good())],
    ['expired', forge({ alg: 'HS256', typ: 'JWT' }, good({ exp: now() - 60, iat: now() - 700 }))],
    ['wrong issuer', forge({ alg: 'HS256', typ: 'JWT' }, good({ iss: 'evil' }))],
    ['wrong audience', forge({ alg: 'HS256', typ: 'JWT' }, good({ aud: 'other-app' }))],
    ['no issuer', forge({ alg: 'HS256', typ: 'JWT' }, good({ iss: undefined }))],
    ['no audience', forge({ alg: 'HS256', typ: 'JWT' }, good({ aud: undefined }))],
    ['no subject', forge({ alg: 'HS256', typ: 'JWT' }, good({ sub: undefined }))],
    ['no expiry', forge({ alg: 'HS256', typ: 'JWT' }, good({ exp: undefined }))],
    ['unknown kind', forge({ alg: 'HS256', typ: 'JWT' }, good({ kind: 'admin' }))],
    ['user token without a session', forge({ alg: 'HS256', typ: 'JWT' }, good({ sid: undefined }))],
    ['service that is not configured', forge({ alg: 'HS256', typ: 'JWT' }, good({ sub: 'ghost', kind: 'service' }))],
    ['garbage', 'not.a.token'],
    ['tampered payload', (() => { const [h, , s] = (alice as string).split('.'); return `${h}.${b64(good({ sub: 'bob' }))}.${s}` })()]
  ]
  for (const [what, token] of forged) {
    const res = await api(server, 'POST', '/v1/messages', { token, body: { to: 'bob', content: 'x' } })
    t.equal(res.status, 401, `HTTP: ${what}`)
    t.equal(res.body.error.code, 'unauthorized')
    await t.rejects(Client.connect(server, token), /unexpected response 401/, `WebSocket header: ${what}`)
    const viaFrame = await Client.connect(server, token, { via: 'frame', waitReady: false })
    t.equal((await viaFrame.closed).code, 4500, `WebSocket auth frame: ${what}`)
  }
  t.match(await api(server, 'POST', '/v1/messages', { body: { to: 'bob', content: 'x' } }), { status: 401 }, 'no token')
  const basic = await fetch(server.url + '/v1/presence/bob', { headers: { authorization: 'Basic YWxpY2U6cHc=' } })
  t.equal(basic.status, 401, 'not a bearer token')

  const expiring = forge({ alg: 'HS256', typ: 'JWT' }, good({ exp: now() - 2 }))
  t.match(await api(server, 'GET', '/v1/presence/bob', { token: expiring }), { status: 200 }, 'a small clock leeway is allowed')
})

t.test('tokens in the URL are refused', async (t) => {
  const server = await startServer(t)
  const [alice] = await users(server, 'alice')
  for (const name of ['token', 'access_token', 'accessToken', 'jwt', 'auth', 'authorization', 'Authorization', 'bearer', 'api_key', 'apiKey']) {
    const res = await api(server, 'GET', `/v1/presence/alice?${name}=${alice}`)
    t.match(res, { status: 400, body: { error: { code: 'token_in_url' } } }, `HTTP ?${name}=`)
  }
  for (const name of ['token', 'auth', 'authorization']) {
    const ws = new WebSocket(`${server.wsUrl}?after=0&${name}=${alice}`)
    ws.on('error', () => {})
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0) })
      ws.on('open', () => { resolve(101) })
    })
    t.equal(status, 400, `a WebSocket upgrade with ?${name}= is refused before the upgrade`)
    ws.terminate()
  }
})

t.test('sign-up, login and service tokens are rate limited per client address', async (t) => {
  const server = await startServer(t, { DUOLOG_AUTH_RATE_LIMIT: '3' })
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) statuses.push((await api(server, 'POST', '/v1/auth/login', { body: { id: 'alice', password: 'whatever it is' } })).status)
  t.same(statuses, [401, 401, 401, 429])
  const limited = await api(server, 'POST', '/v1/auth/login', { body: { id: 'alice', password: 'whatever it is' } })
  t.match(limited.body, { error: { code: 'rate_limited' } })
  t.ok(Number(limited.headers.get('retry-after')) > 0, 'with Retry-After')
  for (const header of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
    t.ok(limited.headers.get(header) !== null, `and ${header}, as openapi/openapi.json says`)
  }
  t.match(await api(server, 'GET', '/healthz'), { status: 200 }, 'other routes are not limited')
})

t.test('a service creating users is not held to the anonymous sign-up limit; anonymous sign-ups still are', async (t) => {
  const server = await startServer(t, { DUOLOG_AUTH_RATE_LIMIT: '3', DUOLOG_SERVICE_RATE_LIMIT: '100' })
  const service = await serviceToken(server)
  const created: number[] = []
  for (let i = 0; i < 40; i++) created.push((await api(server, 'POST', '/v1/users', { token: service, body: { id: `user${i}` } })).status)
  t.same([...new Set(created)], [201], '40 users in a minute with a limit of 3 for anonymous callers')
  const anonymous: number[] = []
  for (let i = 0; i < 4; i++) anonymous.push((await api(server, 'POST', '/v1/users', { body: { id: `anon${i}`, password: 'a long enough password' } })).status)
  t.same(anonymous, [201, 201, 201, 429])
  const withBadToken = await api(server, 'POST', '/v1/users', { token: 'not-a-token', body: { id: 'x1', password: 'a long enough password' } })
  t.equal(withBadToken.status, 429, 'a token that does not verify counts as anonymous')
})

t.test('guessing one account\'s password: after 5 failures every try waits, doubling, whatever the password and whether or not the account exists', async (t) => {
  const server = await startServer(t)
  const service = await serviceToken(server)
  t.equal((await api(server, 'POST', '/v1/users', { token: service, body: { id: 'alice', password: 'the right password' } })).status, 201)
  const guesses = async (id: string): Promise<number[]> => {
    const statuses: number[] = []
    for (let i = 0; i < 7; i++) statuses.push((await api(server, 'POST', '/v1/auth/login', { body: { id, password: `guess ${i}` } })).status)
    return statuses
  }
  t.same(await guesses('alice'), [401, 401, 401, 401, 401, 429, 429])
  const locked = await api(server, 'POST', '/v1/auth/login', { body: { id: 'ALICE', password: 'the right password' } })
  t.match(locked, { status: 429, body: { error: { code: 'rate_limited' } } }, 'the right password waits too, and the id\'s case does not matter')
  t.equal(locked.headers.get('retry-after'), '1')
  t.same(await guesses('nobody'), [401, 401, 401, 401, 401, 429, 429], 'an id that does not exist answers the same: nothing is told about accounts')
  await sleep(1100)
  t.match(await api(server, 'POST', '/v1/auth/login', { body: { id: 'alice', password: 'the right password' } }), { status: 200 }, 'after the wait, the right password logs in')
  t.match(await api(server, 'POST', '/v1/auth/login', { body: { id: 'alice', password: 'wrong' } }), { status: 401 }, 'and a success starts the count again')
})
