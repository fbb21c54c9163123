import t, { type Test } from 'tap'
import { Writable } from 'node:stream'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { Client, api, serviceToken, testEnv, users } from './helpers.js'

// What operators read: one line per WebSocket authentication and close, per failed login;
// request ids they can follow across services; and nothing secret, ever.

async function loggedServer (t: Test): Promise<{ url: string, wsUrl: string, lines: () => Array<Record<string, any>>, text: () => string }> {
  let text = ''
  const stream = new Writable({ write (chunk, _encoding, done) { text += String(chunk); done() } })
  const app = await buildApp(loadConfig(testEnv()), { level: 'info', stream })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  const url = `http://127.0.0.1:${address.port}`
  return { url, wsUrl: `ws://127.0.0.1:${address.port}/v1/ws`, text: () => text, lines: () => text.trim().split('\n').map((line) => JSON.parse(line)) }
}

t.test('request ids: taken from x-request-id when safe, made unique otherwise, echoed, and in the request\'s log lines', async (t) => {
  const server = await loggedServer(t)
  const given = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'edge-42.a:b' } })
  t.equal(given.headers.get('x-request-id'), 'edge-42.a:b')
  const lines = server.lines().filter((l) => l.reqId === 'edge-42.a:b')
  t.equal(lines.length, 1, 'one line per request')
  t.match(lines[0], { msg: 'request completed', req: { method: 'GET', url: '/healthz' }, res: { statusCode: 200 } }, 'written when answered, with the id')
  const made = [await fetch(`${server.url}/healthz`), await fetch(`${server.url}/healthz`)].map((r) => r.headers.get('x-request-id'))
  t.match(made[0], /^[0-9a-f-]{36}$/, 'a UUID, unique across instances (not req-1)')
  t.not(made[0], made[1])
  const unsafe = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'x'.repeat(200) } })
  t.match(unsafe.headers.get('x-request-id'), /^[0-9a-f-]{36}$/, 'an id too long (or with odd characters) is replaced')
})

t.test('no token, password or content in any log line, a refused token-bearing URL included', async (t) => {
  const server = await loggedServer(t)
  const [alice] = await users(server.url, 'alice', 'bob')
  const service = await serviceToken(server.url)
  await api(server.url, 'POST', '/v1/users', { token: service, body: { id: 'carol', password: 'carol-secret-password' } })
  t.equal((await api(server.url, 'GET', `/v1/presence/alice?access_token=${alice}`)).status, 400)
  t.equal((await api(server.url, 'GET', '/v1/presence/alice?auth=sekrit-value&x=1')).status, 400)
  t.equal((await api(server.url, 'POST', '/v1/auth/login', { body: { id: 'carol', password: 'a wrong guess' } })).status, 401)
  await api(server.url, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'private words' } })
  const text = server.text()
  for (const secret of [alice as string, service, 'sekrit-value', 'carol-secret-password', 'a wrong guess', 'private words']) {
    t.notOk(text.includes(secret), `not logged: ${secret.slice(0, 12)}...`)
  }
  t.ok(server.lines().some((l) => l.req?.url === '/v1/presence/alice?access_token=[redacted]'), 'the URL is logged with the value redacted')
  t.ok(server.lines().some((l) => l.msg === 'login failed' && l.account === 'carol'), 'a failed login is logged, with the account id')
})

t.test('one line per WebSocket open, authentication and close, with user, connection and close code', async (t) => {
  const server = await loggedServer(t)
  const [alice] = await users(server.url, 'alice')
  const c = await Client.connect(server.wsUrl, alice)
  const ready = c.frames.find((f) => f.type === 'ready') as Record<string, unknown>
  c.ws.close(1000)
  await c.closed
  await new Promise((resolve) => setTimeout(resolve, 50))
  const refused = await Client.connect(server.wsUrl, 'not-a-token', { via: 'frame', waitReady: false })
  await refused.closed
  await new Promise((resolve) => setTimeout(resolve, 50))
  const lines = server.lines()
  t.match(lines.find((l) => l.msg === 'websocket opened'), { userId: 'alice', connectionId: ready.connectionId, auth: 'header' })
  t.match(lines.find((l) => l.msg === 'websocket authenticated'), { userId: 'alice', connectionId: ready.connectionId })
  t.match(lines.find((l) => l.msg === 'websocket closed'), { userId: 'alice', connectionId: ready.connectionId, code: 1000 })
  const refusal = lines.find((l) => l.msg === 'websocket authentication refused')
  t.match(refusal, { code: 4500, reason: 'auth_failed', connectionId: String })
  t.match(lines.find((l) => l.msg === 'websocket opened' && l.connectionId === refusal?.connectionId), { auth: 'frame' }, 'the refused socket\'s open, under the same id')
  t.equal(lines.filter((l) => l.msg === 'websocket opened').length, 2, 'one line per socket opened')
})
