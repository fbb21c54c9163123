import t from 'tap'
import { Client, api, eventually, startServer, users } from '../helpers.js'

/** 1,000 malformed frames of many shapes, made deterministically. */
function malformedFrames (): string[] {
  const shapes: Array<(i: number) => string> = [
    (i) => 'x'.repeat(i % 50),
    (i) => `{"type":"send","to":"bob","content":${i}}`,
    (i) => `{"type":"send","to":${JSON.stringify('b'.repeat(i % 100 + 65))},"content":"x"}`,
    (i) => '['.repeat(i % 200 + 1),
    (i) => '{"type":'.repeat(i % 20 + 1),
    (i) => JSON.stringify({ type: ['send', 'sync', 'ack', 'ping'][i % 4], to: i, after: 'x', upTo: -i, limit: 0 }),
    (i) => JSON.stringify({ type: 'sync', after: i + 0.5 }),
    (i) => JSON.stringify({ type: 'sync', after: 1e300 * (i + 1) }),
    (i) => JSON.stringify({ type: 'ack', upTo: 10_000 + i }),
    (i) => JSON.stringify({ type: 'send', to: 'nobody' + i, content: 'x', clientMsgId: `m${i}` }),
    (i) => JSON.stringify({ type: 'send', to: 'bob', content: 'x'.repeat(4001 + i) }),
    (i) => JSON.stringify({ type: 'send', to: 'bob', content: { nested: i } }),
    (i) => JSON.stringify({ type: 'send', to: 'bob', content: 'x', clientMsgId: 'c'.repeat(129 + i) }),
    (i) => JSON.stringify({ type: null, n: i }),
    (i) => JSON.stringify({ type: 'constructor', n: i }),
    (i) => JSON.stringify({ type: 'hasOwnProperty', n: i }),
    (i) => `{"__proto__":{"type":"ping"},"n":${i}}`,
    (i) => JSON.stringify(i),
    (i) => JSON.stringify('send' + i),
    () => 'true',
    () => '',
    (i) => Buffer.from([0xc3, 0x28, i % 256]).toString('latin1'),
    (i) => `{"type":"send","to":"bob","content":"\\ud800${i}"`,
    (i) => JSON.stringify({ type: 'auth', token: 'x'.repeat(i % 9000 + 1) })
  ]
  return Array.from({ length: 1000 }, (_, i) => (shapes[i % shapes.length] as (i: number) => string)(i))
}

t.test('1,000 malformed frames: an error for each, nothing stored, the process answers', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  const b = await Client.connect(server, bob)
  const frames = malformedFrames()
  for (const frame of frames) a.send(frame)
  const answers = []
  // Errors for sends come once the send is refused (some only after a store round trip), so count them.
  while (answers.length < frames.length) answers.push(await a.next(undefined, 10_000))
  t.ok(answers.every((f) => f.type === 'error'), 'only error frames came back')
  t.ok(answers.every((f) => typeof f.code === 'string' && typeof f.message === 'string'), 'each with a code and a message')
  a.send({ type: 'ping' })
  t.same(await a.next(), { type: 'pong' }, 'one error per bad frame, then the pong: the connection is open')
  t.same(b.unread(), [], 'nothing reached the peer')

  a.send({ type: 'send', to: 'bob', content: 'still here', clientMsgId: 'after-fuzz' })
  t.match(await a.next('sent'), { seq: 1 }, 'the connection still sends, and nothing bad took a seq')
  t.match(await b.next('message'), { content: 'still here' })
  t.match(await api(server, 'GET', '/healthz'), { status: 200 })
})

t.test('dead connections leave the registry within the heartbeat bound', async (t) => {
  const server = await startServer(t, { DUOLOG_WS_HEARTBEAT_MS: '100', DUOLOG_PRESENCE_VISIBILITY: 'everyone', DUOLOG_PRESENCE_GRACE_MS: '0' })
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  await Client.connect(server, bob)
  t.match(await api(server, 'GET', '/v1/presence/alice', { token: bob }), { body: { online: true } })
  // Stop reading: the client no longer answers pings, like a phone that lost its network.
  a.tcp.pause()
  const start = Date.now()
  await eventually(async () => (await api(server, 'GET', '/v1/presence/alice', { token: bob })).body.online === false, 3000)
  const took = Date.now() - start
  t.ok(took <= 3 * 100 + 500, `offline after ${took}ms (bound: two heartbeats)`)
  t.equal(server.app.relay.hub.registry.count('alice'), 0)
})

t.test('a live event beyond the next seq is filled from the store first', async (t) => {
  const server = await startServer(t)
  const [alice] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  // Stored without fan-out: what a lost cross-node event looks like to this connection.
  await server.app.store.appendMessages([1, 2, 3].map((i) => ({ from: 'bob', to: 'alice', content: `unseen ${i}`, clientMsgId: null, createdAt: Date.now() })))
  a.send({ type: 'send', to: 'bob', content: 'mine' })
  const frames = [await a.next(), await a.next(), await a.next(), await a.next()]
  t.same(frames.map((f) => [f.type, f.seq]), [['message', 1], ['message', 2], ['message', 3], ['sent', 4]])
})

t.test('a client that does not read is disconnected, not buffered forever', async (t) => {
  const server = await startServer(t, { DUOLOG_WS_MAX_BUFFERED_BYTES: '1024' })
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  a.tcp.pause()
  const b = await Client.connect(server, bob)
  const big = 'x'.repeat(4000)
  // About 12 MB: more than the kernel's socket buffers hold, so the server's own buffer grows.
  for (let i = 0; i < 3000; i++) b.send({ type: 'send', to: 'alice', content: big })
  for (let i = 0; i < 3000; i++) await b.next('sent', 20_000)
  t.pass('the sender is never blocked by a slow reader')
  await eventually(() => server.app.relay.hub.registry.count('alice') === 0)
  a.tcp.resume()
  // 4003 slow_consumer when the close frame got through; 1006 when the server had to cut it.
  t.ok([4003, 1006].includes((await a.closed).code), 'the connection was closed by the server')
  const again = await Client.connect(server, alice, { after: 0 })
  t.ok(again.frames.length > 1, 'a reconnect with after=0 replays what it missed')
})
