import t from 'tap'
import WebSocket from 'ws'
import { api, Client, startServer, users } from '../helpers.js'

/** Opens a WebSocket as a browser page of `origin` would; answers the refusal's status and body, or 'open'. */
async function upgradeFrom (wsUrl: string, token: string, origin?: string): Promise<'open' | { status: number, body: any }> {
  const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` }, ...(origin === undefined ? {} : { origin }) })
  return await new Promise((resolve, reject) => {
    ws.once('open', () => { ws.close(); resolve('open') })
    ws.once('unexpected-response', (_req, res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }) })
    })
    ws.once('error', reject)
  })
}

t.test('DUOLOG_ALLOWED_ORIGINS: a page of another origin cannot open a WebSocket', async (t) => {
  const server = await startServer(t, { DUOLOG_ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:5173' })
  const [alice] = await users(server, 'alice') as [string]
  const refused = await upgradeFrom(server.wsUrl, alice, 'https://evil.example')
  t.match(refused, { status: 403, body: { error: { code: 'origin_not_allowed' } } }, 'refused before the upgrade, with a code')
  t.equal(await upgradeFrom(server.wsUrl, alice, 'https://app.example.com'), 'open', 'a listed origin')
  t.equal(await upgradeFrom(server.wsUrl, alice, 'HTTP://LOCALHOST:5173'), 'open', 'origins compare case-insensitively')
  t.equal(await upgradeFrom(server.wsUrl, alice), 'open', 'a client that sends no Origin (a backend, an app) is not a page')
  const client = await Client.connect(server, alice)
  t.pass('the usual client still connects')
  client.close()
})

t.test('without DUOLOG_ALLOWED_ORIGINS any origin may open a WebSocket', async (t) => {
  const server = await startServer(t)
  const [alice] = await users(server, 'alice') as [string]
  t.equal(await upgradeFrom(server.wsUrl, alice, 'https://anywhere.example'), 'open')
})

t.test('DUOLOG_CORS_ORIGINS: listed pages may call the REST API, others get no CORS headers', async (t) => {
  const server = await startServer(t, { DUOLOG_CORS_ORIGINS: 'https://app.example.com' })
  const [alice] = await users(server, 'alice') as [string]
  const preflight = await fetch(`${server.url}/v1/messages`, {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' }
  })
  t.equal(preflight.status, 204)
  t.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.com')
  t.match(preflight.headers.get('access-control-allow-headers'), /authorization/)
  t.match(preflight.headers.get('access-control-allow-methods'), /POST/)
  const listed = await fetch(`${server.url}/v1/conversations`, { headers: { origin: 'https://app.example.com', authorization: `Bearer ${alice}` } })
  t.equal(listed.status, 200)
  t.equal(listed.headers.get('access-control-allow-origin'), 'https://app.example.com')
  t.match(listed.headers.get('access-control-expose-headers'), /retry-after/, 'a page can read Retry-After')
  const other = await fetch(`${server.url}/v1/conversations`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${alice}` } })
  t.equal(other.headers.get('access-control-allow-origin'), null, 'the browser keeps the answer from a page of another origin')
})

t.test('DUOLOG_CORS_ORIGINS=* lets any page call; unset, no CORS headers at all', async (t) => {
  const open = await startServer(t, { DUOLOG_CORS_ORIGINS: '*' })
  const any = await fetch(`${open.url}/healthz`, { headers: { origin: 'https://anywhere.example' } })
  t.equal(any.headers.get('access-control-allow-origin'), '*')
  const closed = await startServer(t)
  const none = await fetch(`${closed.url}/healthz`, { headers: { origin: 'https://anywhere.example' } })
  t.equal(none.headers.get('access-control-allow-origin'), null)
  const res = await api(closed, 'OPTIONS', '/v1/messages')
  t.equal(res.status, 404, 'no preflight route without CORS')
})
