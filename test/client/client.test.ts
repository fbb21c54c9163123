import t from 'tap'
import WebSocket from 'ws'
import { DuologClient, MemoryStorage, type WebSocketConstructor } from '../../client/src/index.js'
import type { MessageFrame } from '../../client/src/protocol.js'
import { JWT_SECRET, SERVICE_ID, SERVICE_SECRET, api, eventually, sleep, tempDir } from '../helpers.js'
import { listening, spawnServer } from '../process.js'
import { freePort } from '../services.js'

// The SDK against a real duolog in a child process: killed with SIGKILL mid-stream and
// restarted on the same port and data directory, tokens that expire mid-connection, and a
// close that must not be retried.

const NodeWebSocket = WebSocket as unknown as WebSocketConstructor

async function server (t: { teardown: (fn: () => unknown) => void }, port: number, dataDir: string, env: Record<string, string> = {}): Promise<{ url: string, kill: () => Promise<void> }> {
  const child = spawnServer({
    PORT: String(port),
    DUOLOG_DATA_DIR: dataDir,
    DUOLOG_JWT_SECRET: JWT_SECRET,
    DUOLOG_SERVICE_CLIENTS: `${SERVICE_ID}:${SERVICE_SECRET}`,
    DUOLOG_AUTH_RATE_LIMIT: '100000',
    DUOLOG_SERVICE_RATE_LIMIT: '100000',
    DUOLOG_SEND_RATE: '100000',
    DUOLOG_SEND_BURST: '100000',
    ...env
  })
  t.teardown(() => { child.kill('SIGKILL') })
  const url = await listening(child)
  return {
    url,
    kill: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
  }
}

/** A token function as an app would have: asks its backend (here the service API) for a fresh token. */
function tokenFor (url: string, user: string): () => Promise<string> {
  return async () => {
    const service = await api(url, 'POST', '/v1/auth/token', { body: { clientId: SERVICE_ID, clientSecret: SERVICE_SECRET } })
    if (service.status !== 200) throw new Error(`service token: ${service.status}`)
    const minted = await api(url, 'POST', `/v1/users/${user}/tokens`, { token: service.body.accessToken })
    if (minted.status !== 200) throw new Error(`token for ${user}: ${minted.status}`)
    return minted.body.accessToken
  }
}

async function createUsers (url: string, ...ids: string[]): Promise<void> {
  const service = (await api(url, 'POST', '/v1/auth/token', { body: { clientId: SERVICE_ID, clientSecret: SERVICE_SECRET } })).body.accessToken
  for (const id of ids) await api(url, 'POST', '/v1/users', { token: service, body: { id } })
}

t.test('killed with SIGKILL mid-stream and restarted: every send resolves, the recipient gets each message once, in order', async (t) => {
  const port = await freePort()
  const dataDir = tempDir()
  let current = await server(t, port, dataDir)
  const url = current.url
  await createUsers(url, 'alice', 'bob')
  const backoff = { initialMs: 50, maxMs: 500 }
  const alice = new DuologClient({ url, token: tokenFor(url, 'alice'), WebSocket: NodeWebSocket, storage: new MemoryStorage(), backoff })
  const bob = new DuologClient({ url, token: tokenFor(url, 'bob'), WebSocket: NodeWebSocket, storage: new MemoryStorage(), backoff })
  const received: MessageFrame[] = []
  bob.on('message', (m) => { received.push(m) })
  const states: string[] = []
  alice.on('state', ({ state }) => { states.push(state) })
  await alice.connect()
  await bob.connect()

  const contents = Array.from({ length: 300 }, (_, i) => `message ${i + 1}`)
  const sends: Array<Promise<unknown>> = []
  let killed: Promise<void> | undefined
  for (const [i, content] of contents.entries()) {
    sends.push(alice.send('bob', content))
    if (i === 150) {
      // Some sends stored, some in flight, some not yet sent: now the server dies.
      await eventually(() => received.length >= 20, 10_000)
      killed = current.kill()
    }
    if (i % 10 === 0) await sleep(5)
  }
  await killed
  await sleep(300)
  current = await server(t, port, dataDir)
  const results = await Promise.all(sends) as Array<{ seq: number, clientMsgId: string }>
  t.equal(results.length, 300, 'every send promise resolved')
  t.equal(new Set(results.map((r) => r.clientMsgId)).size, 300)
  await eventually(() => received.length >= 300, 15_000)
  await sleep(300)
  t.same(received.map((m) => m.content), contents, 'bob got exactly the sent messages, once each, in order')
  t.ok(states.includes('reconnecting'), 'alice went through a reconnect')
  const stored = (await api(url, 'GET', '/v1/sync?after=0&limit=500', { token: await tokenFor(url, 'bob')() })).body.messages
  t.equal(stored.length, 300, 'the store holds each message once')
  alice.close()
  bob.close()
})

t.test('a token that expires mid-connection is refreshed in-band: no reconnect, messages keep flowing', async (t) => {
  const { url } = await server(t, await freePort(), tempDir(), { DUOLOG_ACCESS_TOKEN_TTL: '3' })
  await createUsers(url, 'alice', 'bob')
  const alice = new DuologClient({ url, token: tokenFor(url, 'alice'), WebSocket: NodeWebSocket })
  const bob = new DuologClient({ url, token: tokenFor(url, 'bob'), WebSocket: NodeWebSocket })
  const states: string[] = []
  alice.on('state', ({ state }) => { states.push(state) })
  const received: string[] = []
  bob.on('message', (m) => { received.push(m.content) })
  await alice.connect()
  await bob.connect()
  for (let i = 1; i <= 8; i++) {
    await alice.send('bob', `tick ${i}`)
    await sleep(1000)
  }
  await eventually(() => received.length === 8)
  t.same(states, ['connecting', 'open'], 'eight seconds on tokens that last three, on one connection')
  t.same(received, Array.from({ length: 8 }, (_, i) => `tick ${i + 1}`))
  alice.close()
  bob.close()
})

t.test('a terminal close code (logged out everywhere) stops reconnecting, with the reason', async (t) => {
  const { url } = await server(t, await freePort(), tempDir())
  await createUsers(url, 'alice')
  const token = tokenFor(url, 'alice')
  const alice = new DuologClient({ url, token, WebSocket: NodeWebSocket, backoff: { initialMs: 20, maxMs: 50 } })
  const states: Array<{ state: string, reason?: { code: number } }> = []
  alice.on('state', (s) => { states.push(s) })
  await alice.connect()
  const service = (await api(url, 'POST', '/v1/auth/token', { body: { clientId: SERVICE_ID, clientSecret: SERVICE_SECRET } })).body.accessToken
  const revoked = await api(url, 'DELETE', '/v1/users/alice/sessions', { token: service })
  t.ok(revoked.status < 300, `sessions revoked (${revoked.status})`)
  await eventually(() => alice.connectionState === 'closed')
  const last = states[states.length - 1]
  t.equal(last?.state, 'closed')
  t.ok(last?.reason !== undefined && last.reason.code >= 4500, `with the server's code (${last?.reason?.code ?? 'none'})`)
  await sleep(300)
  t.equal(states.filter((s) => s.state === 'reconnecting').length, 0, 'no reconnect')
})

t.test('a token the server refuses twice in a row closes for good', async (t) => {
  const { url } = await server(t, await freePort(), tempDir())
  const alice = new DuologClient({ url, token: async () => 'not-a-token', WebSocket: NodeWebSocket, backoff: { initialMs: 10, maxMs: 20 } })
  await t.rejects(alice.connect(), /closed by the server: 4500 auth_failed/)
  t.equal(alice.connectionState, 'closed')
})

t.test('edits and deletions reach the other user\'s client live, and a client that was away on resume', async (t) => {
  const { url } = await server(t, await freePort(), tempDir())
  await createUsers(url, 'alice', 'bob')
  const alice = new DuologClient({ url, token: tokenFor(url, 'alice'), WebSocket: NodeWebSocket })
  const bobStorage = new MemoryStorage()
  const bob = new DuologClient({ url, token: tokenFor(url, 'bob'), WebSocket: NodeWebSocket, storage: bobStorage })
  const seen: string[] = []
  bob.on('message', (m) => { seen.push(`message ${m.content}`) })
  bob.on('edited', (m) => { seen.push(`edited ${m.id} ${m.content}`) })
  bob.on('deleted', (m) => { seen.push(`deleted ${m.id}`) })
  await alice.connect()
  await bob.connect()
  const first = await alice.send('bob', 'helo')
  await eventually(() => seen.length === 1)
  const edited = await alice.editMessage(first.id, 'hello')
  t.match(edited, { id: first.id, content: 'hello', editedAt: /^\d{4}-/ })
  await eventually(() => seen.length === 2)

  bob.close()
  const second = await alice.send('bob', 'gone soon')
  await alice.deleteMessage(second.id)
  await t.rejects(alice.deleteMessage(second.id), { status: 409, code: 'message_deleted' })
  // bob's client comes back with the same storage: it resumes after what it processed.
  const again = new DuologClient({ url, token: tokenFor(url, 'bob'), WebSocket: NodeWebSocket, storage: bobStorage })
  again.on('message', (m) => { seen.push(`message ${m.content}${m.deletedAt === undefined ? '' : ' (deleted)'}`) })
  again.on('deleted', (m) => { seen.push(`deleted ${m.id}`) })
  await again.connect()
  await eventually(() => seen.length === 4)
  t.same(seen, ['message helo', `edited ${first.id} hello`, 'message  (deleted)', `deleted ${second.id}`])
  alice.close()
  again.close()
})
