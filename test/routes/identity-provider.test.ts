import t, { type Test } from 'tap'
import { createServer, type Server } from 'node:http'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import { createHmac } from 'node:crypto'
import { Client, api, serviceToken, sleep, startServer, type TestServer } from '../helpers.js'
import { JWKS_COOLDOWN_MS } from '../../src/auth/identity-provider.js'

const ISSUER = 'https://idp.example.test/'
const AUDIENCE = 'duolog-app'

interface Key { alg: string, kid: string, privateKey: CryptoKey, jwk: JWK }

async function key (alg: 'RS256' | 'ES256' | 'EdDSA', kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  return { alg, kid, privateKey, jwk: { ...await exportJWK(publicKey), kid, alg, use: 'sig' } }
}

/** A real HTTP server publishing a JWKS; `keys` can change while it runs (rotation). */
async function jwksServer (t: Test, keys: Key[]): Promise<{ url: string, keys: Key[], fetches: () => number }> {
  let fetches = 0
  const server: Server = createServer((req, res) => {
    fetches++
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: keys.map((k) => k.jwk) }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => { resolve() })))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}/.well-known/jwks.json`, keys, fetches: () => fetches }
}

async function sign (k: Key, claims: Record<string, unknown>, options: { issuer?: string, audience?: string, expiresIn?: string } = {}): Promise<string> {
  return await new SignJWT(claims)
    .setProtectedHeader({ alg: k.alg, kid: k.kid })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(k.privateKey)
}

async function serverWithProvider (t: Test, keys: Key[], env: Record<string, string> = {}): Promise<{ server: TestServer, jwks: Awaited<ReturnType<typeof jwksServer>> }> {
  const jwks = await jwksServer(t, keys)
  const server = await startServer(t, { DUOLOG_JWT_JWKS_URL: jwks.url, DUOLOG_JWT_ISSUER: ISSUER, DUOLOG_JWT_AUDIENCE: AUDIENCE, ...env })
  return { server, jwks }
}

t.test('tokens signed by the identity provider (RS256, ES256, EdDSA) work on REST and on the WebSocket', async (t) => {
  const keys = [await key('RS256', 'rsa-1'), await key('ES256', 'ec-1'), await key('EdDSA', 'ed-1')]
  const { server } = await serverWithProvider(t, keys)
  for (const k of keys) {
    const user = `user-${k.kid}`
    const token = await sign(k, { sub: user, name: `Name of ${k.kid}` })
    const me = await api(server, 'GET', '/v1/sync', { token })
    t.equal(me.status, 200, `${k.alg}: REST accepts it`)
    t.match(await api(server, 'GET', `/v1/users/${user}`, { token }), { status: 200, body: { id: user, displayName: `Name of ${k.kid}` } }, `${k.alg}: the user was created on first sight, named by the token`)
  }
  // A conversation between two identity-provider users over the WebSocket.
  const alice = await Client.connect(server, await sign(keys[0] as Key, { sub: 'alice' }))
  const bob = await Client.connect(server, await sign(keys[1] as Key, { sub: 'bob' }), { via: 'frame' })
  alice.send({ type: 'send', to: 'bob', content: 'hi from the IdP' })
  t.match(await alice.next('sent'), { seq: 1 })
  t.match(await bob.next('message'), { from: 'alice', content: 'hi from the IdP' })
  await alice.close()
  await bob.close()

  // duolog's own login keeps working beside it.
  t.equal((await api(server, 'POST', '/v1/users', { body: { id: 'carol', password: 'carol-password' } })).status, 201)
  const login = await api(server, 'POST', '/v1/auth/login', { body: { id: 'carol', password: 'carol-password' } })
  t.equal((await api(server, 'GET', '/v1/sync', { token: login.body.accessToken })).status, 200)
  t.equal((await api(server, 'GET', '/v1/users/carol', { token: await serviceToken(server) })).status, 200, 'and service tokens too')
})

t.test('refused: an unknown key, a wrong issuer or audience, an expired token, alg switched to HS256 with the public key as secret, alg none', async (t) => {
  const good = await key('RS256', 'rsa-1')
  const { server } = await serverWithProvider(t, [good])
  const stranger = await key('RS256', 'rsa-1')
  const unknownKid = await key('ES256', 'not-published')

  const refused = async (token: string, what: string): Promise<void> => {
    const res = await api(server, 'GET', '/v1/sync', { token })
    t.match(res, { status: 401, body: { error: { code: 'unauthorized' } } }, `REST: ${what}`)
    const upgrade = await Client.connect(server, token).then(async (c) => { await c.close(); return 'accepted' }, (err: Error) => err.message)
    t.equal(upgrade, 'unexpected response 401', `WebSocket upgrade: ${what}`)
    const viaFrame = await Client.connect(server, token, { via: 'frame', waitReady: false })
    t.same(await viaFrame.closed, { code: 4500, reason: 'auth_failed' }, `WebSocket auth frame: ${what}`)
  }

  await refused(await sign(stranger, { sub: 'mallory' }), 'signed with a key the provider did not publish (same kid)')
  await refused(await sign(unknownKid, { sub: 'mallory' }), 'signed with an unknown kid')
  await refused(await sign(good, { sub: 'mallory' }, { audience: 'someone-else' }), 'a wrong audience')
  // The right key, but another issuer: it is then checked as a duolog token, and fails.
  await refused(await sign(good, { sub: 'mallory' }, { issuer: 'https://evil.example.test/' }), 'a wrong issuer')
  await refused(await sign(good, { sub: 'mallory' }, { expiresIn: '-1m' }), 'an expired token')
  await refused(await sign(good, { sub: '../etc' }), 'a sub that is no user id')

  // The classic confusion: HS256 with the provider's public key (as published) as the HMAC secret.
  const header = { alg: 'HS256', typ: 'JWT', kid: good.kid }
  const now = Math.floor(Date.now() / 1000)
  const payload = { sub: 'mallory', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300 }
  const unsigned = `${b64(header)}.${b64(payload)}`
  for (const secret of [JSON.stringify(good.jwk), good.jwk.n as string]) {
    const forged = `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`
    await refused(forged, 'HS256 signed with the public key')
  }
  await refused(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`, 'alg none')

  t.match(await api(server, 'GET', '/v1/users/mallory', { token: await serviceToken(server) }), { status: 404 }, 'no refused token created a user')
})

t.test('a rotated key is fetched on its first unknown kid', async (t) => {
  const first = await key('ES256', 'k1')
  const { server, jwks } = await serverWithProvider(t, [first])
  t.equal((await api(server, 'GET', '/v1/sync', { token: await sign(first, { sub: 'alice' }) })).status, 200)
  t.equal((await api(server, 'GET', '/v1/sync', { token: await sign(first, { sub: 'alice' }) })).status, 200)
  t.equal(jwks.fetches(), 1, 'the key set is cached')
  const second = await key('ES256', 'k2')
  jwks.keys.push(second)
  await sleep(JWKS_COOLDOWN_MS + 100) // a fetch at most every JWKS_COOLDOWN_MS
  t.equal((await api(server, 'GET', '/v1/sync', { token: await sign(second, { sub: 'alice' }) })).status, 200, 'a token of the new key works at once')
  t.equal(jwks.fetches(), 2)
})

t.test('DUOLOG_JWT_AUTOCREATE=false: an unknown user is refused until a service creates it', async (t) => {
  const k = await key('EdDSA', 'ed')
  const { server } = await serverWithProvider(t, [k], { DUOLOG_JWT_AUTOCREATE: 'false' })
  const token = await sign(k, { sub: 'dave' })
  t.match(await api(server, 'GET', '/v1/sync', { token }), { status: 401, body: { error: { code: 'unauthorized', message: /does not exist/ } } })
  t.equal((await api(server, 'POST', '/v1/users', { token: await serviceToken(server), body: { id: 'dave' } })).status, 201)
  t.equal((await api(server, 'GET', '/v1/sync', { token })).status, 200)
})

t.test('an identity provider that cannot be reached: 503, and the WebSocket is told to come back later', async (t) => {
  const k = await key('RS256', 'rsa')
  const jwks = await jwksServer(t, [k])
  const unreachable = jwks.url.replace(/:\d+\//, ':1/')
  const server = await startServer(t, { DUOLOG_JWT_JWKS_URL: unreachable, DUOLOG_JWT_ISSUER: ISSUER, DUOLOG_JWT_AUDIENCE: AUDIENCE })
  const token = await sign(k, { sub: 'alice' })
  t.match(await api(server, 'GET', '/v1/sync', { token }), { status: 503, body: { error: { code: 'identity_provider_unavailable' } } })
  const viaFrame = await Client.connect(server, token, { via: 'frame', waitReady: false })
  t.same(await viaFrame.closed, { code: 4002, reason: 'auth_unavailable' })
})

function b64 (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}
