import t from 'tap'
import { Client, api, startServer, users } from '../helpers.js'

t.test('delivered: one receipt per ack advance, to every device of the sender', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a1 = await Client.connect(server, alice)
  const a2 = await Client.connect(server, alice)
  const b = await Client.connect(server, bob)
  a1.send({ type: 'send', to: 'bob', content: 'one' })
  await a1.next('sent')
  await a2.next('message')
  // A message sent over HTTP gets its receipts too.
  const overHttp = await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'two' } })
  for (const a of [a1, a2]) await a.next('message')
  await b.next('message')
  await b.next('message')
  b.send({ type: 'ack', upTo: 2 })
  const expected = { type: 'receipt', kind: 'delivered', peer: 'bob', by: 'bob', upTo: overHttp.body.id }
  t.same(await a1.next(), expected, 'cumulative: the newest message delivered')
  t.same(await a2.next(), expected)
  b.send({ type: 'ack', upTo: 2 })
  b.send({ type: 'ping' })
  await b.next('pong')
  t.same(await a1.drain(), [], 'no receipt when nothing advanced')
  t.same(await b.drain(), [], 'the acknowledging user is not told')
})

t.test('read: the peer and the reader\'s other devices are told; markers never go back', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const ids: number[] = []
  for (let i = 0; i < 3; i++) ids.push((await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: `m${i}` } })).body.id)
  const a = await Client.connect(server, alice)
  const phone = await Client.connect(server, bob)
  const laptop = await Client.connect(server, bob)
  phone.send({ type: 'read', peer: 'alice', upTo: ids[1] })
  t.same(await a.next(), { type: 'receipt', kind: 'read', peer: 'bob', by: 'bob', upTo: ids[1] })
  t.same(await laptop.next(), { type: 'receipt', kind: 'read', peer: 'alice', by: 'bob', upTo: ids[1] }, 'the reader\'s other device clears its badge')

  let list = await api(server, 'GET', '/v1/conversations', { token: bob })
  t.match(list.body.conversations, [{ peer: 'alice', unread: 1, readUpTo: ids[1] }])

  phone.send({ type: 'read', peer: 'alice', upTo: ids[0] })
  phone.send({ type: 'ping' })
  await phone.next('pong')
  t.same(await a.drain(), [], 'a marker moving backwards is ignored: no receipt')
  list = await api(server, 'GET', '/v1/conversations', { token: bob })
  t.match(list.body.conversations, [{ readUpTo: ids[1], unread: 1 }])

  const http = await api(server, 'POST', '/v1/conversations/alice/read', { token: bob, body: { upTo: ids[2] } })
  t.match(http, { status: 200, body: { peer: 'alice', readUpTo: ids[2] } })
  t.match(await a.next(), { kind: 'read', upTo: ids[2] })
  t.match(await phone.next(), { kind: 'read', peer: 'alice', by: 'bob', upTo: ids[2] }, 'over HTTP, every device of the reader is told')
  t.match(await laptop.next(), { kind: 'read', upTo: ids[2] })
  t.match(await api(server, 'GET', '/v1/conversations', { token: alice }), { body: { conversations: [{ peer: 'bob', peerReadUpTo: ids[2], unread: 0 }] } })

  phone.send({ type: 'read', peer: 'alice', upTo: (ids[2] as number) + 50 })
  t.match(await phone.next('error'), { code: 'invalid_cursor' })
  phone.send({ type: 'read', peer: 'bob', upTo: 1 })
  t.match(await phone.next('error'), { code: 'invalid_recipient' })
  phone.send({ type: 'read', peer: 'nobody', upTo: 1 })
  t.match(await phone.next('error'), { code: 'not_found' })
  t.match(await api(server, 'POST', '/v1/conversations/alice/read', { token: bob, body: { upTo: 0 } }), { status: 400 })
})

t.test('with read receipts off, markers count but the peer is not told', async (t) => {
  const server = await startServer(t, { DUOLOG_READ_RECEIPTS: 'false' })
  const [alice, bob] = await users(server, 'alice', 'bob')
  const sent = await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'private' } })
  const a = await Client.connect(server, alice)
  const b1 = await Client.connect(server, bob)
  const b2 = await Client.connect(server, bob)
  b1.send({ type: 'read', peer: 'alice', upTo: sent.body.id })
  t.match(await b2.next(), { kind: 'read', by: 'bob' }, 'the reader\'s own devices still sync')
  t.same(await a.drain(), [], 'the peer hears nothing')
  t.match(await api(server, 'GET', '/v1/conversations', { token: bob }), { body: { conversations: [{ unread: 0 }] } })
  t.match(await api(server, 'GET', '/v1/conversations', { token: alice }), { body: { conversations: [{ peer: 'bob', peerReadUpTo: null }] } })
})

t.test('GET /v1/conversations: most recent first, cursor-paged, exact unread', async (t) => {
  const server = await startServer(t)
  const ids = ['me', 'p0', 'p1', 'p2', 'p3', 'p4']
  const [me, ...peers] = await users(server, ...ids)
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < peers.length; i++) {
      if (round > i) continue
      await api(server, 'POST', '/v1/messages', { token: peers[i], body: { to: 'me', content: `r${round}` } })
    }
  }
  await api(server, 'POST', '/v1/messages', { token: me, body: { to: 'p1', content: 'latest' } })
  const first = await api(server, 'GET', '/v1/conversations?limit=2', { token: me })
  t.same(first.body.conversations.map((c: any) => c.peer), ['p1', 'p4'])
  t.match(first.body.conversations[0], { lastMessage: { content: 'latest', from: 'me' }, unread: 2 })
  t.match(first.body.conversations[1], { unread: 3, readUpTo: 0 })
  const second = await api(server, 'GET', `/v1/conversations?limit=2&before=${first.body.nextBefore}`, { token: me })
  t.same(second.body.conversations.map((c: any) => c.peer), ['p3', 'p2'])
  const third = await api(server, 'GET', `/v1/conversations?limit=2&before=${second.body.nextBefore}`, { token: me })
  t.same(third.body.conversations.map((c: any) => [c.peer, c.unread]), [['p0', 1]])
  t.equal(third.body.nextBefore, null)
  t.match(await api(server, 'GET', '/v1/conversations', { token: (await api(server, 'POST', '/v1/auth/token', { body: { clientId: 'backend', clientSecret: 'backend-secret-0123456789' } })).body.accessToken }), { status: 403 })
})
