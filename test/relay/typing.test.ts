import t from 'tap'
import { Client, sleep, startServer, users } from '../helpers.js'

t.test('typing reaches every device of the recipient, and only them', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  const aOther = await Client.connect(server, alice)
  const b1 = await Client.connect(server, bob)
  const b2 = await Client.connect(server, bob)
  a.send({ type: 'typing', to: 'bob', state: 'start' })
  for (const b of [b1, b2]) t.same(await b.next(), { type: 'typing', from: 'alice', state: 'start' })
  a.send({ type: 'typing', to: 'bob', state: 'stop' })
  for (const b of [b1, b2]) t.same(await b.next(), { type: 'typing', from: 'alice', state: 'stop' })
  t.same(await aOther.drain(), [], 'the typer\'s other devices are not told')

  b1.send({ type: 'sync', after: 0 })
  t.same(await b1.next(), { type: 'synced', upTo: 0, more: false }, 'typing is never stored or replayed')

  a.send({ type: 'typing', to: 'nobody', state: 'start' })
  t.match(await a.next('error'), { code: 'unknown_recipient' })
  a.send({ type: 'typing', to: 'alice', state: 'start' })
  t.match(await a.next('error'), { code: 'invalid_recipient' })
  a.send({ type: 'typing', to: 'bob', state: 'maybe' })
  t.match(await a.next('error'), { code: 'invalid_frame' })
})

t.test('a start with no stop ends after the timeout, or when the connection closes', async (t) => {
  const server = await startServer(t, { DUOLOG_TYPING_TIMEOUT_MS: '300' })
  const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol')
  const a = await Client.connect(server, alice)
  const b = await Client.connect(server, bob)
  a.send({ type: 'typing', to: 'bob', state: 'start' })
  t.match(await b.next(), { state: 'start' })
  const started = Date.now()
  t.same(await b.next(), { type: 'typing', from: 'alice', state: 'stop' })
  t.ok(Date.now() - started >= 250, 'stopped by the server after the timeout')

  const c = await Client.connect(server, carol)
  c.send({ type: 'typing', to: 'bob', state: 'start' })
  t.match(await b.next(), { from: 'carol', state: 'start' })
  await c.close()
  t.same(await b.next(), { type: 'typing', from: 'carol', state: 'stop' }, 'closing the connection stops it')
})

t.test('a typing flood from one connection does not reach the peer beyond the limit', async (t) => {
  const server = await startServer(t, { DUOLOG_TYPING_PER_10S: '5' })
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  const b = await Client.connect(server, bob)
  for (let i = 0; i < 200; i++) a.send({ type: 'typing', to: 'bob', state: i % 2 === 0 ? 'start' : 'stop' })
  a.send({ type: 'ping' })
  t.same(await a.next(), { type: 'pong' }, 'no error frames for the dropped excess')
  await sleep(300)
  const got = await b.drain()
  t.ok(got.length >= 5 && got.length <= 6, `the peer got ${got.length} of 200 (limit 5 per 10 s)`)
  a.send({ type: 'send', to: 'bob', content: 'messages are not limited by it' })
  t.match(await b.next('message'), { content: 'messages are not limited by it' })
})
