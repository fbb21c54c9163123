import t from 'tap'
import { Client, JWT_SECRET, api, rawHttp, sleep, startServer, tempDir, users } from './helpers.js'
import { exitOf, listening, spawnServer } from './process.js'

const env = (dataDir: string): Record<string, string> => ({
  PORT: '0',
  DUOLOG_DATA_DIR: dataDir,
  DUOLOG_JWT_SECRET: JWT_SECRET,
  DUOLOG_SERVICE_CLIENTS: 'backend:backend-secret-0123456789',
  DUOLOG_AUTH_RATE_LIMIT: '100000',
  DUOLOG_SEND_RATE: '1000000',
  DUOLOG_SEND_BURST: '1000000',
  // The crash tests read back every stream: thousands of messages per user on a fast machine.
  DUOLOG_READ_RATE: '1000000',
  DUOLOG_READ_BURST: '1000000',
  DUOLOG_DRAIN_MS: '0'
})

t.test('kill -9 right after `sent`: nothing acknowledged is lost (SQLite file on disk)', async (t) => {
  const dataDir = tempDir()
  const first = spawnServer(env(dataDir))
  const url = await listening(first)
  const [alice, bob] = await users(url, 'alice', 'bob')
  const wsUrl = url.replace('http:', 'ws:') + '/v1/ws'
  const a = await Client.connect(wsUrl, alice)
  const acknowledged: number[] = []
  // Send a burst; kill the process the moment the 50th `sent` arrives.
  for (let i = 1; i <= 200; i++) a.send({ type: 'send', to: 'bob', content: `m${i}`, clientMsgId: `k${i}` })
  for (;;) {
    const frame = await a.next('sent')
    acknowledged.push(frame.id)
    if (acknowledged.length === 50) break
  }
  const exited = exitOf(first)
  first.kill('SIGKILL')
  const exit = await exited
  t.equal(exit.code, null, 'killed, not closed')
  acknowledged.push(...a.unread().filter((f) => f.type === 'sent').map((f) => f.id))

  const second = spawnServer(env(dataDir))
  t.teardown(() => second.kill('SIGKILL'))
  const url2 = await listening(second)
  const b = await Client.connect(url2.replace('http:', 'ws:') + '/v1/ws', bob, { after: 0 })
  const received: Array<{ id: number, seq: number, content: string }> = []
  for (;;) {
    const frame = await b.next()
    if (frame.type === 'synced') {
      if (!frame.more) break
      b.send({ type: 'sync', after: frame.upTo })
      continue
    }
    if (frame.type === 'message') received.push(frame as never)
  }
  const ids = new Set(received.map((m) => m.id))
  t.ok(acknowledged.every((id) => ids.has(id)), `all ${acknowledged.length} acknowledged messages survived`)
  t.same(received.map((m) => m.seq), received.map((_, i) => i + 1), 'the stream is dense from 1')
  t.same(received.map((m) => m.content), received.map((_, i) => `m${i + 1}`), 'in send order')

  // The retry of an unacknowledged send stores it once, whatever happened before the kill.
  const retry = await api(url2, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'm200', clientMsgId: 'k200' } })
  t.ok([200, 201].includes(retry.status))
  const again = await api(url2, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'm200', clientMsgId: 'k200' } })
  t.equal(again.status, 200)
  t.equal(again.body.id, retry.body.id)
})

t.test('a graceful restart closes sockets with 4000 and keeps the JWT secret it generated', async (t) => {
  const dataDir = tempDir()
  const noSecret = { ...env(dataDir), DUOLOG_JWT_SECRET: '' }
  const first = spawnServer(noSecret)
  const url = await listening(first)
  const [alice] = await users(url, 'alice', 'bob')
  const a = await Client.connect(url.replace('http:', 'ws:') + '/v1/ws', alice)
  const exited = exitOf(first)
  first.kill('SIGTERM')
  t.same(await a.closed, { code: 4000, reason: 'server_shutdown' }, 'reconnect and sync')
  t.equal((await exited).code, 0)
  const second = spawnServer(noSecret)
  t.teardown(() => second.kill('SIGKILL'))
  const url2 = await listening(second)
  t.match(await api(url2, 'GET', '/v1/sync', { token: alice }), { status: 200 }, 'a token from before the restart still works')
})

t.test('SIGTERM drains first: /readyz answers 503 shutting_down while sends and sockets still work, then the server closes', async (t) => {
  const server = spawnServer({ ...env(tempDir()), DUOLOG_DRAIN_MS: '1500' })
  const exited = exitOf(server)
  t.teardown(() => server.kill('SIGKILL'))
  const url = await listening(server)
  const [alice, bob] = await users(url, 'alice', 'bob')
  const b = await Client.connect(url.replace('http:', 'ws:') + '/v1/ws', bob)
  t.match(await api(url, 'GET', '/readyz'), { status: 200 })
  const signalled = Date.now()
  server.kill('SIGTERM')
  await sleep(200)
  t.match(await api(url, 'GET', '/readyz'), { status: 503, body: { error: { code: 'shutting_down' } } }, 'the load balancer is told')
  t.match(await api(url, 'GET', '/healthz'), { status: 200 }, 'the process is alive')
  t.match(await api(url, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'during the drain' } }), { status: 201 }, 'traffic still served')
  t.match(await b.next('message'), { content: 'during the drain' }, 'sockets still live')
  t.same(await b.closed, { code: 4000, reason: 'server_shutdown' }, 'then closed: reconnect elsewhere')
  t.ok(Date.now() - signalled >= 1400, 'after the drain window')
  t.equal((await exited).code, 0)
})

t.test('a request that reaches a closing server gets 503 shutting_down with a code, and is told to reconnect', async (t) => {
  const server = await startServer(t)
  const [alice] = await users(server, 'alice')
  const c = await Client.connect(server, alice)
  // The client stops reading: its close handshake hangs, and the server is closing but still listening.
  const socket = c.tcp
  socket.pause()
  const closing = server.app.close()
  await sleep(100)
  const res = await api(server, 'GET', '/healthz')
  t.match(res, { status: 503, body: { error: { code: 'shutting_down' } } })
  t.equal(res.headers.get('connection'), 'close')
  socket.resume()
  await closing
})

t.test('a client that never answers the close does not hold the shutdown: it is cut off after a short grace, with the close frame already sent', async (t) => {
  const server = await startServer(t)
  const [alice] = await users(server, 'alice')
  const c = await Client.connect(server, alice)
  // The client stops reading for good (a frozen tab, a phone that lost its network).
  const socket = c.tcp
  socket.pause()
  const started = Date.now()
  await server.app.close()
  const took = Date.now() - started
  // ws itself would wait 30 s for the answer; the whole close must take a few seconds at most.
  t.ok(took < 5000, `closed in ${took} ms`)
  t.ok(took >= 1000, 'after giving the client time to answer')
  socket.resume()
  t.same(await c.closed, { code: 4000, reason: 'server_shutdown' }, 'the client still reads why: reconnect elsewhere')
})

t.test('a WebSocket upgrade that reaches a closing server is answered 503 and its socket closed: it does not hold the shutdown', async (t) => {
  const server = await startServer(t)
  const [alice] = await users(server, 'alice')
  // A client that does not answer the close keeps the server closing (and listening) a while.
  const slow = await Client.connect(server, alice)
  slow.tcp.pause()
  const started = Date.now()
  const closing = server.app.close()
  await sleep(100)
  // A client reconnecting at once, as told by the close: a raw upgrade that keeps its end open.
  const raw = await rawHttp(server.url)
  raw.socket.write(`GET /v1/ws HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  await raw.ended
  t.match(raw.answer(), /^HTTP\/1\.1 503/, 'told to go elsewhere')
  t.match(raw.answer(), /shutting_down/)
  await closing
  // Under the 5 s after which a closing server cuts every connection: this socket was closed, not cut.
  t.ok(Date.now() - started < 4000, `the close finished in ${Date.now() - started} ms`)
})

t.test('a request in flight when the server closes gets its answer with connection: close; its kept-alive connection does not hold the close', async (t) => {
  const server = await startServer(t)
  await users(server, 'alice')
  const body = JSON.stringify({ id: 'alice', password: 'wrong-password-long' })
  const raw = await rawHttp(server.url)
  // Headers and half the body before the close: the request is in flight, routed, not yet answered.
  raw.socket.write(`POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`)
  await sleep(100)
  const started = Date.now()
  const closing = server.app.close()
  await sleep(100)
  raw.socket.write(body.slice(10))
  await raw.ended
  t.match(raw.answer(), /^HTTP\/1\.1 401/, 'answered, as it would have been')
  t.match(raw.answer(), /\r\nconnection: close\r\n/i, 'and told the connection ends')
  await closing
  // Kept alive, the idle connection would have held the close for the keep-alive timeout (72 s).
  t.ok(Date.now() - started < 2000, `the close finished in ${Date.now() - started} ms`)
})

t.test('a client that sends half a request and stops does not hold the shutdown: it is cut off after a grace', async (t) => {
  const server = await startServer(t)
  const raw = await rawHttp(server.url)
  // A slow or stalled client: the body announced is never finished.
  raw.socket.write('POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id":')
  await sleep(100)
  const started = Date.now()
  await server.app.close()
  const took = Date.now() - started
  t.ok(took < 8000, `closed in ${took} ms`)
  t.ok(took >= 4000, 'after giving the request time to finish')
  await raw.ended
  t.pass('its connection is closed')
})

t.test('kill -9 at many points of the index writer (runs written in slices): nothing acknowledged lost, streams dense, unread counts exact after restart', async (t) => {
  const dataDir = tempDir()
  const ids = Array.from({ length: 12 }, (_, i) => `u${i}`)
  let child = spawnServer(env(dataDir))
  t.teardown(() => { child.kill('SIGKILL') })
  let url = await listening(child)
  const tokens = new Map((await users(url, ...ids)).map((token, i) => [ids[i] as string, token]))
  /** Acknowledged messages from -> to, by id. */
  const acknowledged = new Map<number, { from: string, to: string }>()
  for (let round = 0; round < 6; round++) {
    const running = { stop: false }
    // Eight senders as fast as acknowledged: index runs of thousands of messages, in many slices.
    const senders = Array.from({ length: 8 }, async (_, s) => {
      for (let i = 0; !running.stop; i++) {
        const from = ids[(s + i) % ids.length] as string
        const to = ids[(s + i * 7 + 1) % ids.length] as string
        if (from === to) continue
        try {
          const res = await api(url, 'POST', '/v1/messages', { token: tokens.get(from), body: { to, content: `r${round} s${s} i${i}` } })
          if (res.status === 201) acknowledged.set(res.body.id, { from, to })
        } catch {
          return // the server was killed under this request: not acknowledged
        }
      }
    })
    // Even rounds: killed while appending (and right after the start's own indexing); odd
    // rounds: inside the first run of slices, which starts 5 s after the first message.
    const started = Date.now()
    const killAt = round % 2 === 0 ? 300 + Math.random() * 900 : 5000 + Math.random() * 1500
    const before = acknowledged.size
    // At least 100 acknowledged before the kill, however slow the machine.
    while (Date.now() - started < killAt || acknowledged.size - before < 100) await sleep(20)
    const exited = exitOf(child)
    child.kill('SIGKILL')
    running.stop = true
    await exited
    await Promise.all(senders)
    child = spawnServer(env(dataDir))
    url = await listening(child)
  }
  t.ok(acknowledged.size >= 600, `${acknowledged.size} messages acknowledged over 6 kills`)

  for (const user of ids) {
    const stream: any[] = []
    for (let after = 0; ;) {
      const page = await api(url, 'GET', `/v1/sync?after=${after}&limit=500`, { token: tokens.get(user) })
      stream.push(...page.body.messages)
      after = page.body.upTo
      if (!page.body.more) break
    }
    t.same(stream.map((m) => m.seq), stream.map((_, i) => i + 1), `${user}: dense from 1`)
    const mine = [...acknowledged].filter(([, m]) => m.from === user || m.to === user).map(([id]) => id)
    const seen = new Set(stream.map((m) => m.id))
    t.equal(seen.size, stream.length, `${user}: no message twice`)
    t.ok(mine.every((id) => seen.has(id)), `${user}: every acknowledged message`)
    // Nobody read anything: unread is every message received from that peer (acknowledged or
    // not: one stored just before a kill counts too).
    const received = new Map<string, number>()
    for (const m of stream) if (m.to === user) received.set(m.from, (received.get(m.from) ?? 0) + 1)
    const listed = await api(url, 'GET', '/v1/conversations?limit=100', { token: tokens.get(user) })
    const unread = new Map<string, number>(listed.body.conversations.map((c: any) => [c.peer, c.unread]))
    t.same(Object.fromEntries([...unread].filter(([, n]) => n > 0).sort()), Object.fromEntries([...received].sort()), `${user}: unread counts exact`)
  }
})
