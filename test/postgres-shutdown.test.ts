import t from 'tap'
import WebSocket from 'ws'
import { JWT_SECRET, api, sleep, users } from './helpers.js'
import { exitOf, listening, spawnServer } from './process.js'
import { postgresUrl, schemaForTest } from './services.js'

// SIGTERM under load on PostgreSQL: the drain, then the close, must end well inside the
// grace period (drain + 10 s), with every acknowledged message stored.

const DRAIN_MS = 300
const PAIRS = 50

const url = postgresUrl()
if (url !== undefined) {
  t.test('SIGTERM with 100 sockets and 10 HTTP clients sending as fast as acknowledged: out within drain + 3 s, nothing acknowledged lost', async (t) => {
    const schema = schemaForTest(t, url)
    const env = {
      PORT: '0',
      DUOLOG_DATABASE_URL: url,
      DUOLOG_DATABASE_SCHEMA: schema,
      DUOLOG_JWT_SECRET: JWT_SECRET,
      DUOLOG_SERVICE_CLIENTS: 'backend:backend-secret-0123456789',
      DUOLOG_AUTH_RATE_LIMIT: '100000',
      DUOLOG_SERVICE_RATE_LIMIT: '100000',
      DUOLOG_SEND_RATE: '1000000',
      DUOLOG_SEND_BURST: '1000000',
      // Every stream is read back at the end: thousands of messages on a fast machine.
      DUOLOG_READ_RATE: '1000000',
      DUOLOG_READ_BURST: '1000000',
      DUOLOG_DRAIN_MS: String(DRAIN_MS)
    }
    const server = spawnServer(env)
    t.teardown(() => server.kill('SIGKILL'))
    const base = await listening(server)
    const ids = Array.from({ length: PAIRS * 2 }, (_, i) => `u${i}`)
    const tokens = await users(base, ...ids)

    // Each socket sends to its partner, one message in flight, the next as soon as `sent` comes.
    const acknowledged = new Set<string>()
    const sockets = ids.map((id, i) => {
      const partner = ids[i % 2 === 0 ? i + 1 : i - 1] as string
      const ws = new WebSocket(base.replace('http:', 'ws:') + '/v1/ws', { headers: { authorization: `Bearer ${tokens[i] as string}` } })
      let n = 0
      const sendNext = (): void => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'send', to: partner, content: `${id}-${++n}`, clientMsgId: `${id}-${n}` })) }
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString())
        if (frame.type === 'ready') sendNext()
        if (frame.type === 'sent') { acknowledged.add(frame.clientMsgId); sendNext() }
      })
      ws.on('error', () => {})
      return ws
    })
    // And HTTP senders on kept-alive connections, a request always in flight.
    const http = { on: true }
    const httpSenders = ids.slice(0, 10).map(async (id, i) => {
      const partner = ids[i % 2 === 0 ? i + 1 : i - 1] as string
      for (let n = 1; http.on; n++) {
        const clientMsgId = `${id}-http-${n}`
        const res = await api(base, 'POST', '/v1/messages', { token: tokens[i] as string, body: { to: partner, content: clientMsgId, clientMsgId } }).catch(() => undefined)
        if (res?.status === 201) acknowledged.add(clientMsgId)
      }
    })
    await sleep(2000)
    t.ok(acknowledged.size > 100, `under load: ${acknowledged.size} messages acknowledged in 2 s`)

    const exited = exitOf(server)
    const started = Date.now()
    server.kill('SIGTERM')
    const { code, stderr } = await exited
    const took = Date.now() - started
    t.equal(code, 0, `a clean exit ${stderr.slice(-500)}`)
    t.ok(took < DRAIN_MS + 3000, `out in ${took} ms (the grace period is ${DRAIN_MS + 10_000} ms)`)
    for (const ws of sockets) ws.terminate()
    http.on = false
    await Promise.all(httpSenders)

    // A new instance on the same schema has every acknowledged message.
    const again = spawnServer(env)
    t.teardown(() => again.kill('SIGKILL'))
    const base2 = await listening(again)
    const service = (await api(base2, 'POST', '/v1/auth/token', { body: { clientId: 'backend', clientSecret: 'backend-secret-0123456789' } })).body.accessToken as string
    const stored = new Set<string>()
    for (const id of ids.filter((_, i) => i % 2 === 1)) {
      const token = (await api(base2, 'POST', `/v1/users/${id}/tokens`, { token: service })).body.accessToken as string
      for (let after = 0; ;) {
        const page = await api(base2, 'GET', `/v1/sync?after=${after}&limit=500`, { token })
        for (const m of page.body.messages as Array<{ clientMsgId?: string }>) if (m.clientMsgId !== undefined) stored.add(m.clientMsgId)
        after = page.body.upTo
        if (page.body.more !== true) break
      }
    }
    const lost = [...acknowledged].filter((id) => !stored.has(id))
    t.same(lost, [], `all ${acknowledged.size} acknowledged messages are stored`)
  })
}
