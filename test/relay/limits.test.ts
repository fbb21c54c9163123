import t from 'tap'
import { Client, api, serviceToken, sleep, startServer, users } from '../helpers.js'

// One user flooding must not be able to store without bound: a token bucket per user, on
// by default, refuses the excess (nothing accepted is dropped), and nobody else pays.

const limited = { DUOLOG_SEND_RATE: '5', DUOLOG_SEND_BURST: '10' }

t.test('a flood over WebSocket: the burst is stored, the rest refused with rate_limited and retryAfter; others are not limited', async (t) => {
  const server = await startServer(t, limited)
  const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol')
  const a = await Client.connect(server, alice)
  for (let i = 1; i <= 40; i++) a.send({ type: 'send', to: 'bob', content: `m${i}`, clientMsgId: `k${i}` })
  const answers = []
  for (let i = 0; i < 40; i++) answers.push(await a.next())
  const sent = answers.filter((f) => f.type === 'sent')
  const refused = answers.filter((f) => f.type === 'error')
  // The burst at once; then the socket goes unread while alice may not send, and what it
  // held meanwhile gets the tokens that refilled (a few of 5 per second).
  t.ok(sent.length >= 10 && sent.length <= 14, `the burst is stored, hardly more (${sent.length})`)
  t.equal(refused.length, 40 - sent.length)
  t.match(refused[0], { code: 'rate_limited', ref: 'k11' })
  t.ok(refused.every((f) => f.code === 'rate_limited' && f.retryAfter > 0 && f.retryAfter <= 200), 'each says when to retry (ms)')

  const c = await Client.connect(server, carol)
  for (let i = 1; i <= 10; i++) c.send({ type: 'send', to: 'bob', content: `c${i}`, clientMsgId: `c${i}` })
  for (let i = 0; i < 10; i++) t.equal((await c.next()).type, 'sent', 'another user is not limited by alice\'s flood')

  await sleep(refused[refused.length - 1]?.retryAfter as number + 10)
  a.send({ type: 'send', to: 'bob', content: 'later', clientMsgId: 'k11' })
  t.match(await a.next(), { type: 'sent', clientMsgId: 'k11' }, 'a refused one passes after retryAfter, with its clientMsgId')

  const stream = (await api(server, 'GET', '/v1/sync?after=0&limit=500', { token: bob })).body.messages
  t.equal(stream.filter((m: { from: string }) => m.from === 'alice').length, sent.length + 1, 'exactly the acknowledged ones are stored')
  t.same(stream.filter((m: { from: string }) => m.from === 'alice').map((m: { clientMsgId: string }) => m.clientMsgId).sort(), [...sent.map((f) => f.clientMsgId), 'k11'].sort())
})

t.test('over HTTP: 429 with Retry-After; a service sending as the user is not counted against them', async (t) => {
  const server = await startServer(t, limited)
  const [alice] = await users(server, 'alice', 'bob')
  const statuses: number[] = []
  let refusal
  for (let i = 0; i < 15; i++) {
    const res = await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: `h${i}` } })
    statuses.push(res.status)
    if (res.status === 429) refusal = res
  }
  t.ok(statuses.filter((s) => s === 201).length >= 10, 'the burst passes')
  t.ok(statuses.includes(429), 'then 429')
  t.match(refusal, { body: { error: { code: 'rate_limited' } } })
  t.equal(refusal?.headers.get('retry-after'), '1', 'Retry-After in whole seconds, rounded up')
  const service = await serviceToken(server)
  for (let i = 0; i < 20; i++) {
    t.equal((await api(server, 'POST', '/v1/messages', { token: service, body: { from: 'alice', to: 'bob', content: `s${i}` } })).status, 201)
  }
})

t.test('connections per user are capped: the next one closes with 4508 until one of them closes', async (t) => {
  const server = await startServer(t, { DUOLOG_MAX_CONNECTIONS_PER_USER: '3' })
  const [alice, bob] = await users(server, 'alice', 'bob')
  const open = [await Client.connect(server, alice), await Client.connect(server, alice), await Client.connect(server, alice)]
  const extra = await Client.connect(server, alice, { waitReady: false })
  t.same(await extra.closed, { code: 4508, reason: 'too_many_connections' })
  t.ok(await Client.connect(server, bob), 'another user is not affected')
  open[0]?.ws.close()
  await open[0]?.closed
  await sleep(20)
  const again = await Client.connect(server, alice)
  again.send({ type: 'ping' })
  t.match(await again.next('pong'), { type: 'pong' }, 'a place freed is taken again')
})

t.test('frames sent before `ready` are held up to a bound; a client that keeps going is closed with 4009', async (t) => {
  const server = await startServer(t)
  const [alice] = await users(server, 'alice', 'bob')
  const c = await Client.connect(server, undefined, { waitReady: false })
  // All in one write: the server reads them in one turn, before the connection can be ready.
  const socket = c.tcp
  socket.cork()
  c.ws.send(JSON.stringify({ type: 'auth', token: alice }))
  for (let i = 0; i < 500; i++) c.ws.send(JSON.stringify({ type: 'ping' }))
  socket.uncork()
  t.same(await c.closed, { code: 4009, reason: 'frames_before_ready' })
})

// One user reading their stream or history in a loop (many sockets syncing a backlog) must
// not slow everyone else: reads take turns per user, shared by HTTP and WebSocket.

t.test('reads over HTTP: the burst is served, then 429 with Retry-After; history and sync share the turns; others are not limited', async (t) => {
  // Turns are counted in messages: a page costs its limit (sync 100, history 50 by default).
  const server = await startServer(t, { DUOLOG_READ_RATE: '100', DUOLOG_READ_BURST: '250' })
  const [alice, bob] = await users(server, 'alice', 'bob') as [string, string]
  const statuses = []
  statuses.push((await api(server, 'GET', '/v1/sync?after=0', { token: alice })).status)
  statuses.push((await api(server, 'GET', '/v1/conversations/bob/messages', { token: alice })).status)
  statuses.push((await api(server, 'GET', '/v1/sync?after=0&limit=90', { token: alice })).status)
  // A page of 100 needs 90 more turns than are left: refused unless the first three took 0.9 s
  // (a page of 20, as before, was served on a slow machine: the bucket refills 100 a second).
  const refused = await api(server, 'GET', '/v1/conversations/bob/messages?limit=100', { token: alice })
  t.same(statuses, [200, 200, 200], '100 + 50 + 90 of 250')
  t.equal(refused.status, 429)
  t.equal(refused.body.error.code, 'rate_limited')
  t.equal(refused.headers.get('retry-after'), '1')
  t.equal((await api(server, 'GET', '/v1/sync?after=0', { token: bob })).status, 200, 'bob reads as usual')
  const sent = await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'sending is not reading' } })
  t.equal(sent.status, 201)
})

t.test('syncs over WebSocket past the rate wait their turn instead of failing, and use up the turns of HTTP reads', async (t) => {
  const server = await startServer(t, { DUOLOG_READ_RATE: '400', DUOLOG_READ_BURST: '100' })
  const [alice] = await users(server, 'alice', 'bob') as [string, string]
  const a = await Client.connect(server, alice)
  const started = Date.now()
  for (let i = 0; i < 3; i++) {
    a.send({ type: 'sync', after: 0 })
    t.match(await a.next(), { type: 'synced', upTo: 0, more: false }, `sync ${i + 1} is answered`)
  }
  // A page of 100 at once, then one per 250 ms: the third answer cannot come before 500 ms.
  t.ok(Date.now() - started >= 450, `the syncs past the burst were slowed (${Date.now() - started} ms)`)
  a.send({ type: 'sync', after: 0 })
  a.send({ type: 'sync', after: 0 })
  t.match(await a.next(), { type: 'error', code: 'sync_in_progress' }, 'a second sync while one waits is refused, so waiting syncs cannot pile up')
  t.match(await a.next(), { type: 'synced' })
  const http = await api(server, 'GET', '/v1/sync?after=0', { token: alice })
  t.equal(http.status, 429, 'the socket\'s syncs used alice\'s turns')
  a.close()
})

t.test('a client that floods without waiting is closed with 4029 and may not reconnect at once', async (t) => {
  const server = await startServer(t, { DUOLOG_SEND_RATE: '1', DUOLOG_SEND_BURST: '1' })
  const [alice, bob] = await users(server, 'alice', 'bob') as [string, string]
  const a = await Client.connect(server, alice)
  for (let i = 0; i < 200; i++) a.send({ type: 'send', to: 'bob', content: `flood ${i}` })
  t.match(await a.closed, { code: 4029, reason: 'rate_limit_ignored' })
  await t.rejects(Client.connect(server, alice), /unexpected response 429/, 'an upgrade with the token is refused before it happens')
  const viaFrame = await Client.connect(server, alice, { via: 'frame', waitReady: false })
  t.match(await viaFrame.closed, { code: 4029 }, 'and so is one that authenticates with a frame')
  const b = await Client.connect(server, bob)
  t.pass('another user connects as usual')
  b.close()
  const stored = (await api(server, 'GET', '/v1/sync?after=0&limit=500', { token: bob })).body.messages.length
  t.ok(stored >= 1 && stored <= 3, `only what the rate allowed was stored (${stored})`)
})

t.test('closing the server while a socket is paused for its rate does not wait for the pause or the close timeout', async (t) => {
  const server = await startServer(t, { DUOLOG_SEND_RATE: '1', DUOLOG_SEND_BURST: '1' })
  const [alice] = await users(server, 'alice', 'bob') as [string, string]
  const a = await Client.connect(server, alice)
  a.send({ type: 'send', to: 'bob', content: 'one', clientMsgId: 'one' })
  a.send({ type: 'send', to: 'bob', content: 'two', clientMsgId: 'two' })
  const answers = [await a.next(), await a.next()]
  t.match(answers.find((f) => f.type === 'error'), { code: 'rate_limited', ref: 'two' }, 'refused: the socket goes unread for about a second')
  void a.close()
  const started = Date.now()
  await server.app.close()
  t.ok(Date.now() - started < 500, `closed in ${Date.now() - started} ms, not after the pause (1 s) or ws's close timeout (30 s)`)
})
