import t from 'tap'
import { Client, api, startServer, users } from '../helpers.js'

t.test('ready frame, send, sent and message', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice, { waitReady: false })
  const ready = await a.next('ready')
  t.match(ready, { type: 'ready', userId: 'alice', lastSeq: 0, ackedSeq: 0 })
  t.type(ready.connectionId, 'string')
  const b = await Client.connect(server, bob)

  a.send({ type: 'send', to: 'bob', content: 'hello bob', clientMsgId: 'm-1' })
  const sent = await a.next('sent')
  t.match(sent, { type: 'sent', clientMsgId: 'm-1', seq: 1 })
  t.type(sent.id, 'number')
  t.ok(!Number.isNaN(Date.parse(sent.createdAt)), 'createdAt is a date')

  const message = await b.next('message')
  t.same(message, { type: 'message', id: sent.id, seq: 1, from: 'alice', to: 'bob', content: 'hello bob', createdAt: sent.createdAt, clientMsgId: 'm-1' })

  b.send({ type: 'send', to: 'alice', content: 'hi alice' })
  const reply = await a.next('message')
  t.match(reply, { from: 'bob', to: 'alice', content: 'hi alice', seq: 2 }, 'seq counts in the reader\'s own stream')
  t.notOk('clientMsgId' in reply, 'no clientMsgId when the sender gave none')
  t.match(await b.next('sent'), { seq: 2 })
  t.same(a.unread(), [], 'the sender gets no message frame for its own send')
})

t.test('ping, ack and ackedSeq', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  a.send({ type: 'ping' })
  t.same(await a.next(), { type: 'pong' })
  for (let i = 0; i < 3; i++) {
    await api(server, 'POST', '/v1/messages', { token: bob, body: { to: 'alice', content: `m${i}` } })
  }
  for (let i = 1; i <= 3; i++) t.equal((await a.next('message')).seq, i)
  a.send({ type: 'ack', upTo: 2 })
  a.send({ type: 'ack', upTo: 1 })
  a.send({ type: 'ack', upTo: 9 })
  const error = await a.next('error')
  t.equal(error.code, 'invalid_cursor', 'an ack past the end of the stream is refused')
  const again = await Client.connect(server, alice)
  t.equal(again.frames[0]?.ackedSeq, 2, 'ackedSeq is the highest ack, never lowered')
  t.equal(again.frames[0]?.lastSeq, 3)
})

t.test('sync replays the stream in pages, then goes live', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  for (let i = 1; i <= 5; i++) await api(server, 'POST', '/v1/messages', { token: bob, body: { to: 'alice', content: `m${i}` } })
  const a = await Client.connect(server, alice)
  t.equal(a.frames[0]?.lastSeq, 5)

  a.send({ type: 'sync', after: 1, limit: 2 })
  t.same([(await a.next('message')).seq, (await a.next('message')).seq], [2, 3])
  t.same(await a.next(), { type: 'synced', upTo: 3, more: true })

  // While paused (more=true), live messages wait in the store for the next sync.
  await api(server, 'POST', '/v1/messages', { token: bob, body: { to: 'alice', content: 'm6' } })
  a.send({ type: 'sync', after: 3 })
  const rest = [await a.next('message'), await a.next('message'), await a.next('message')]
  t.same(rest.map((m) => m.content), ['m4', 'm5', 'm6'])
  t.same(await a.next(), { type: 'synced', upTo: 6, more: false })

  await api(server, 'POST', '/v1/messages', { token: bob, body: { to: 'alice', content: 'm7' } })
  t.match(await a.next('message'), { seq: 7, content: 'm7' }, 'live again after the last page')

  a.send({ type: 'sync', after: 99 })
  t.match(await a.next('error'), { code: 'invalid_cursor' })
  a.send({ type: 'sync', after: 7 })
  t.same(await a.next(), { type: 'synced', upTo: 7, more: false }, 'a sync at the end is empty')
})

t.test('a retried clientMsgId stores nothing new and answers the original', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  const b = await Client.connect(server, bob)
  a.send({ type: 'send', to: 'bob', content: 'once', clientMsgId: 'retry-1' })
  const first = await a.next('sent')
  a.send({ type: 'send', to: 'bob', content: 'once', clientMsgId: 'retry-1' })
  const second = await a.next('sent')
  t.same(second, first, 'the same sent frame')
  await b.next('message')
  t.same(await b.drain(), [], 'the recipient got it once')

  const http = await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'once', clientMsgId: 'retry-1' } })
  t.equal(http.status, 200, 'an HTTP retry of the same clientMsgId answers 200')
  t.equal(http.body.id, first.id)

  a.send({ type: 'send', to: 'bob', content: 'different', clientMsgId: 'retry-1' })
  t.match(await a.next('error'), { code: 'idempotency_conflict', ref: 'retry-1' })
  const history = await api(server, 'GET', '/v1/conversations/bob/messages', { token: alice })
  t.equal(history.body.messages.length, 1)

  // Another user may use the same clientMsgId: it is scoped to its sender.
  b.send({ type: 'send', to: 'alice', content: 'mine', clientMsgId: 'retry-1' })
  t.match(await b.next('sent'), { seq: 2 })
})

t.test('auth with a first frame (browsers)', async (t) => {
  const server = await startServer(t, { DUOLOG_WS_AUTH_TIMEOUT_MS: '300' })
  const [alice] = await users(server, 'alice')
  const a = await Client.connect(server, alice, { via: 'frame' })
  t.equal(a.frames[0]?.userId, 'alice')
  a.send({ type: 'auth', token: 'garbage' })
  t.match(await a.next('error'), { code: 'unauthorized' }, 'a bad token in a second auth is an error, and the connection stays')
  a.send({ type: 'ping' })
  t.same(await a.next(), { type: 'pong' })

  const silent = await Client.connect(server)
  t.same(await silent.closed, { code: 4008, reason: 'auth_timeout' }, 'no auth frame in time')

  const wrongFirst = await Client.connect(server)
  wrongFirst.send({ type: 'ping' })
  t.same(await wrongFirst.closed, { code: 4501, reason: 'auth_expected' })

  const badToken = await Client.connect(server)
  badToken.send({ type: 'auth', token: 'not-a-token' })
  t.same(await badToken.closed, { code: 4500, reason: 'auth_failed' })

  const notJson = await Client.connect(server)
  notJson.send('{"type":"auth"')
  t.same(await notJson.closed, { code: 4501, reason: 'auth_expected' })
})

t.test('frames that arrive right after auth are not lost', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const b = await Client.connect(server, bob)
  const a = await Client.connect(server, alice, { via: 'frame', waitReady: false })
  for (let i = 0; i < 20; i++) a.send({ type: 'send', to: 'bob', content: `early ${i}`, clientMsgId: `e${i}` })
  t.equal((await a.next()).type, 'ready', 'ready comes first')
  for (let i = 0; i < 20; i++) t.equal((await b.next('message')).content, `early ${i}`)
})

t.test('bad frames get an error frame and the connection stays open', async (t) => {
  const server = await startServer(t, { DUOLOG_MAX_CONTENT_LENGTH: '10' })
  const [alice] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  const cases: Array<[unknown, string, string?]> = [
    ['not json', 'invalid_frame'],
    ['[1,2]', 'invalid_frame'],
    ['null', 'invalid_frame'],
    [{ kind: 'send' }, 'invalid_frame'],
    [{ type: 'shout' }, 'unknown_type'],
    [{ type: 'send', to: 'bob' }, 'invalid_frame'],
    [{ type: 'send', to: 'bob', content: 42 }, 'invalid_frame'],
    [{ type: 'send', to: 'bad id!', content: 'x', clientMsgId: 'r1' }, 'invalid_frame', 'r1'],
    [{ type: 'send', to: 'bob', content: 'x'.repeat(11), clientMsgId: 'r2' }, 'content_too_long', 'r2'],
    [{ type: 'send', to: 'bob', content: '', clientMsgId: 'r3' }, 'invalid_request', 'r3'],
    [{ type: 'send', to: 'nobody', content: 'x', clientMsgId: 'r4' }, 'unknown_recipient', 'r4'],
    [{ type: 'send', to: 'alice', content: 'x', clientMsgId: 'r5' }, 'invalid_recipient', 'r5'],
    [{ type: 'sync', after: -1 }, 'invalid_frame'],
    [{ type: 'sync', after: 'zero' }, 'invalid_frame'],
    [{ type: 'ack' }, 'invalid_frame'],
    [{ type: 'toString' }, 'unknown_type'],
    [{ type: '__proto__' }, 'unknown_type']
  ]
  for (const [frame, code, ref] of cases) {
    a.send(frame)
    const error = await a.next('error')
    t.equal(error.code, code, JSON.stringify(frame))
    t.equal(error.ref, ref)
    t.type(error.message, 'string')
  }
  a.send({ type: 'send', to: 'bob', content: '🙂'.repeat(10) })
  t.match(await a.next('sent'), { seq: 1 }, 'the content limit counts characters, not UTF-16 units')
  a.send({ type: 'ping' })
  t.same(await a.next(), { type: 'pong' })
})

t.test('a frame over the size limit closes with 1009', async (t) => {
  const server = await startServer(t, { DUOLOG_MAX_FRAME_BYTES: '2048' })
  const [alice] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  a.send({ type: 'send', to: 'bob', content: 'x'.repeat(4096) })
  t.equal((await a.closed).code, 1009)
  const again = await Client.connect(server, alice)
  again.send({ type: 'ping' })
  t.same(await again.next(), { type: 'pong' }, 'the server lives on')
})
