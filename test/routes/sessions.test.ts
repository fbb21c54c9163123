import t from 'tap'
import { join } from 'node:path'
import { Client, api, inspectDatabase, serviceToken, sleep, startServer, users } from '../helpers.js'

async function login (server: Parameters<typeof api>[0], id: string): Promise<{ accessToken: string, refreshToken: string }> {
  const res = await api(server, 'POST', '/v1/auth/login', { body: { id, password: `${id}-password` } })
  if (res.status !== 200) throw new Error(JSON.stringify(res.body))
  return res.body
}

async function signup (server: Parameters<typeof api>[0], ...ids: string[]): Promise<void> {
  for (const id of ids) await api(server, 'POST', '/v1/users', { body: { id, password: `${id}-password` } })
}

t.test('login returns a refresh token; refresh rotates it; reuse ends the session', async (t) => {
  const server = await startServer(t)
  await signup(server, 'alice', 'bob')
  const first = await login(server, 'alice')
  t.match(first, { tokenType: 'Bearer', expiresIn: 900, refreshExpiresIn: 2592000 })
  t.type(first.refreshToken, 'string')

  const second = await api(server, 'POST', '/v1/auth/refresh', { body: { refreshToken: first.refreshToken } })
  t.equal(second.status, 200)
  t.not(second.body.refreshToken, first.refreshToken, 'a new refresh token')
  t.match(await api(server, 'GET', '/v1/sync', { token: second.body.accessToken }), { status: 200 }, 'the new access token works')

  const socket = await Client.connect(server, second.body.accessToken)
  const other = await login(server, 'alice')
  const otherSocket = await Client.connect(server, other.accessToken)

  // The old refresh token again: a thief, or a client racing itself. The whole login ends.
  const reused = await api(server, 'POST', '/v1/auth/refresh', { body: { refreshToken: first.refreshToken } })
  t.match(reused, { status: 401, body: { error: { code: 'unauthorized' } } })
  t.match(await api(server, 'POST', '/v1/auth/refresh', { body: { refreshToken: second.body.refreshToken } }), { status: 401 }, 'the rotated refresh token is dead too')
  t.match(await api(server, 'GET', '/v1/sync', { token: second.body.accessToken }), { status: 401 }, 'and so is its access token')
  t.same(await socket.closed, { code: 4505, reason: 'session_revoked' }, 'its sockets are closed')
  t.match(await api(server, 'GET', '/v1/sync', { token: other.accessToken }), { status: 200 }, 'another login of the same user is untouched')
  otherSocket.send({ type: 'ping' })
  t.same(await otherSocket.next(), { type: 'pong' })

  t.match(await api(server, 'POST', '/v1/auth/refresh', { body: { refreshToken: 'made-up' } }), { status: 401 })
  t.match(await api(server, 'POST', '/v1/auth/refresh', { body: {} }), { status: 400 })
})

t.test('refresh tokens are stored hashed', async (t) => {
  const server = await startServer(t)
  await signup(server, 'alice')
  const { refreshToken } = await login(server, 'alice')
  await server.app.close()
  const db = inspectDatabase(join(server.dataDir, 'duolog.db'))
  t.teardown(() => db.close())
  const stored = db.prepare('SELECT hash FROM refresh_tokens').pluck().all() as string[]
  t.equal(stored.length, 1)
  t.not(stored[0], refreshToken)
  t.notOk(JSON.stringify(db.prepare('SELECT * FROM refresh_tokens').all()).includes(refreshToken), 'the token itself is nowhere')
})

t.test('logout ends the session and closes its sockets with a do-not-retry code', async (t) => {
  const server = await startServer(t)
  await signup(server, 'alice')
  const phone = await login(server, 'alice')
  const laptop = await login(server, 'alice')
  const phoneSocket = await Client.connect(server, phone.accessToken)
  const laptopSocket = await Client.connect(server, laptop.accessToken)
  t.match(await api(server, 'POST', '/v1/auth/logout', { token: phone.accessToken }), { status: 204 })
  t.same(await phoneSocket.closed, { code: 4503, reason: 'logged_out' })
  t.match(await api(server, 'GET', '/v1/sync', { token: phone.accessToken }), { status: 401 })
  t.match(await api(server, 'POST', '/v1/auth/refresh', { body: { refreshToken: phone.refreshToken } }), { status: 401 })
  await t.rejects(Client.connect(server, phone.accessToken), /401/)
  laptopSocket.send({ type: 'ping' })
  t.same(await laptopSocket.next(), { type: 'pong' }, 'the other session lives on')
  const service = await serviceToken(server)
  t.match(await api(server, 'POST', '/v1/auth/logout', { token: service }), { status: 403 }, 'a service has no session to log out')
})

t.test('a service ends every session of a user', async (t) => {
  const server = await startServer(t)
  await signup(server, 'alice')
  const [minted] = await users(server, 'bob')
  const a1 = await login(server, 'alice')
  const a2 = await login(server, 'alice')
  const s1 = await Client.connect(server, a1.accessToken)
  const s2 = await Client.connect(server, a2.accessToken)
  const bob = await Client.connect(server, minted)
  const service = await serviceToken(server)
  t.match(await api(server, 'DELETE', '/v1/users/alice/sessions', { token: a1.accessToken }), { status: 403 }, 'users cannot')
  t.match(await api(server, 'DELETE', '/v1/users/alice/sessions', { token: service }), { status: 200, body: { revoked: 2 } })
  t.same(await s1.closed, { code: 4504, reason: 'sessions_revoked' })
  t.same(await s2.closed, { code: 4504, reason: 'sessions_revoked' })
  for (const token of [a1.accessToken, a2.accessToken]) t.match(await api(server, 'GET', '/v1/sync', { token }), { status: 401 })
  t.match(await api(server, 'POST', '/v1/auth/refresh', { body: { refreshToken: a2.refreshToken } }), { status: 401 })
  t.match(await api(server, 'GET', '/v1/sync', { token: (await login(server, 'alice')).accessToken }), { status: 200 }, 'a new login works')
  t.match(await api(server, 'DELETE', '/v1/users/nobody/sessions', { token: service }), { status: 404 })
  bob.send({ type: 'ping' })
  t.same(await bob.next(), { type: 'pong' }, 'other users are untouched')

  t.match(await api(server, 'DELETE', '/v1/users/bob/sessions', { token: service }), { body: { revoked: 1 } }, 'minted tokens have a session too')
  t.equal((await bob.closed).code, 4504)
})

t.test('revocations survive a restart', async (t) => {
  const server = await startServer(t)
  await signup(server, 'alice')
  const { accessToken } = await login(server, 'alice')
  await api(server, 'POST', '/v1/auth/logout', { token: accessToken })
  await server.app.close()
  const again = await startServer(t, { DUOLOG_DATA_DIR: server.dataDir })
  t.match(await api(again, 'GET', '/v1/sync', { token: accessToken }), { status: 401 })
})

t.test('a socket closes when its token expires, unless a fresh token arrives in-band', async (t) => {
  // exp has a resolution of one second: a 3 s token lives between 2 and 3 s.
  const server = await startServer(t, { DUOLOG_ACCESS_TOKEN_TTL: '3', DUOLOG_CLOCK_TOLERANCE: '0' })
  await signup(server, 'alice', 'bob')
  const first = await login(server, 'alice')
  const expiring = await Client.connect(server, first.accessToken)
  const kept = await Client.connect(server, first.accessToken)
  const opened = Date.now()
  await sleep(1000)
  const fresh = await api(server, 'POST', '/v1/auth/refresh', { body: { refreshToken: first.refreshToken } })
  kept.send({ type: 'auth', token: fresh.body.accessToken })
  t.match(await kept.next(), { type: 'authenticated' })
  const bobs = await login(server, 'bob')
  kept.send({ type: 'auth', token: bobs.accessToken })
  t.match(await kept.next('error'), { code: 'forbidden' }, 'another user\'s token is refused and changes nothing')

  t.same(await expiring.closed, { code: 4401, reason: 'token_expired' })
  const firstExpiry = Date.now()
  t.ok(firstExpiry - opened >= 1800 && firstExpiry - opened < 4000, `closed at expiry (${firstExpiry - opened} ms)`)
  kept.send({ type: 'ping' })
  t.same(await kept.next(), { type: 'pong' }, 'the refreshed connection is still open after the first token expired')
  t.same(await kept.closed, { code: 4401, reason: 'token_expired' }, 'and closes when the fresh token expires')
  t.ok(Date.now() - firstExpiry >= 500, 'about a second after the first')
})

t.test('a token that worked a moment ago (its check remembered) is refused once it expires or its session ends', async (t) => {
  const server = await startServer(t, { DUOLOG_ACCESS_TOKEN_TTL: '2', DUOLOG_CLOCK_TOLERANCE: '0' })
  await signup(server, 'alice', 'bob')
  const expiring = await login(server, 'alice')
  const loggedOut = await login(server, 'alice')
  for (const { accessToken } of [expiring, loggedOut]) {
    t.equal((await api(server, 'GET', '/v1/sync', { token: accessToken })).status, 200, 'accepted, and remembered')
  }
  t.match(await api(server, 'POST', '/v1/auth/logout', { token: loggedOut.accessToken }), { status: 204 })
  t.match(await api(server, 'GET', '/v1/sync', { token: loggedOut.accessToken }), { status: 401 }, 'the logged-out session\'s token at once')
  // Tampered after it was remembered: the signature no longer matches.
  const [head, body, signature] = expiring.accessToken.split('.') as [string, string, string]
  const tampered = `${head}.${body}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`
  t.match(await api(server, 'GET', '/v1/sync', { token: tampered }), { status: 401 }, 'a token differing in its signature')
  await sleep(2100)
  t.match(await api(server, 'GET', '/v1/sync', { token: expiring.accessToken }), { status: 401, body: { error: { message: /expired/ } } }, 'the expired one')
})
