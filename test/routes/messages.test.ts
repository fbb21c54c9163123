import t from 'tap'
import { Client, api, startServer, users } from '../helpers.js'

t.test('POST /v1/messages stores, answers and delivers live', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const b = await Client.connect(server, bob)
  const res = await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'over http', clientMsgId: 'h1' } })
  t.equal(res.status, 201)
  t.match(res.body, { seq: 1, from: 'alice', to: 'bob', clientMsgId: 'h1' })
  t.type(res.body.id, 'number')
  t.same(await b.next('message'), { type: 'message', id: res.body.id, seq: 1, from: 'alice', to: 'bob', content: 'over http', createdAt: res.body.createdAt, clientMsgId: 'h1' })

  const errors: Array<[unknown, number, string]> = [
    [{ to: 'nobody', content: 'x' }, 404, 'unknown_recipient'],
    [{ to: 'alice', content: 'x' }, 400, 'invalid_recipient'],
    [{ to: 'bob', content: '' }, 400, 'invalid_request'],
    [{ to: 'bob' }, 400, 'invalid_request'],
    [{ to: 'bob', content: 'x'.repeat(4001) }, 400, 'content_too_long'],
    [{ to: 'bob', content: 7 }, 400, 'invalid_request']
  ]
  for (const [body, status, code] of errors) {
    const err = await api(server, 'POST', '/v1/messages', { token: alice, body })
    t.equal(err.status, status, JSON.stringify(body).slice(0, 60))
    t.equal(err.body.error.code, code)
    t.type(err.body.error.message, 'string')
  }
  t.match(await api(server, 'POST', '/v1/messages', { token: alice, rawBody: '{"to":' }), { status: 400, body: { error: { code: 'invalid_json' } } })
  t.match(await api(server, 'POST', '/v1/messages', { token: alice, rawBody: JSON.stringify({ to: 'bob', content: 'x'.repeat(70_000) }) }),
    { status: 413, body: { error: { code: 'payload_too_large' } } })
  t.same(await b.drain(), [], 'nothing bad was delivered')
})

t.test('conversation history is paged newest first', async (t) => {
  const server = await startServer(t)
  const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol')
  for (let i = 1; i <= 7; i++) {
    await api(server, 'POST', '/v1/messages', { token: i % 2 === 0 ? bob : alice, body: { to: i % 2 === 0 ? 'alice' : 'bob', content: `c${i}` } })
    await api(server, 'POST', '/v1/messages', { token: carol, body: { to: 'alice', content: `other ${i}` } })
  }
  const page1 = await api(server, 'GET', '/v1/conversations/bob/messages?limit=3', { token: alice })
  t.equal(page1.status, 200)
  t.same(page1.body.messages.map((m: any) => m.content), ['c7', 'c6', 'c5'])
  t.match(page1.body.messages[0], { from: 'alice', to: 'bob' })
  t.equal(page1.body.nextBefore, page1.body.messages[2].id)
  const page2 = await api(server, 'GET', `/v1/conversations/bob/messages?limit=3&before=${page1.body.nextBefore}`, { token: alice })
  t.same(page2.body.messages.map((m: any) => m.content), ['c4', 'c3', 'c2'])
  const page3 = await api(server, 'GET', `/v1/conversations/bob/messages?limit=3&before=${page2.body.nextBefore}`, { token: alice })
  t.same(page3.body.messages.map((m: any) => m.content), ['c1'])
  t.equal(page3.body.nextBefore, null, 'no more pages')

  const newer = await api(server, 'GET', `/v1/conversations/bob/messages?after=${page2.body.messages[0].id}`, { token: alice })
  t.same(newer.body.messages.map((m: any) => m.content), ['c7', 'c6', 'c5'], 'after bounds the page from below')

  const asBob = await api(server, 'GET', '/v1/conversations/alice/messages?limit=1', { token: bob })
  t.equal(asBob.body.messages[0].content, 'c7')
  t.equal(asBob.body.messages[0].seq, 7, 'seq is the caller\'s own')
  t.equal(page1.body.messages[0].seq, 13, 'alice\'s stream also holds carol\'s messages')

  t.match(await api(server, 'GET', '/v1/conversations/nobody/messages', { token: alice }), { status: 404 })
  t.match(await api(server, 'GET', '/v1/conversations/bob/messages?limit=0', { token: alice }), { status: 400 })
  t.match(await api(server, 'GET', '/v1/conversations/bob/messages?before=abc', { token: alice }), { status: 400 })
  t.match(await api(server, 'GET', '/v1/conversations/bob/messages?limit=100000', { token: alice }), { status: 200 }, 'a big limit is capped, not refused')
})

t.test('GET /v1/sync pages the caller\'s stream', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  for (let i = 1; i <= 5; i++) await api(server, 'POST', '/v1/messages', { token: i === 3 ? alice : bob, body: { to: i === 3 ? 'bob' : 'alice', content: `s${i}` } })
  const first = await api(server, 'GET', '/v1/sync?after=0&limit=2', { token: alice })
  t.same(first.body.messages.map((m: any) => m.seq), [1, 2])
  t.match(first.body, { upTo: 2, more: true })
  const rest = await api(server, 'GET', '/v1/sync?after=2', { token: alice })
  t.same(rest.body.messages.map((m: any) => [m.seq, m.content]), [[3, 's3'], [4, 's4'], [5, 's5']])
  t.match(rest.body, { upTo: 5, more: false })
  t.match(await api(server, 'GET', '/v1/sync?after=5', { token: alice }), { body: { messages: [], upTo: 5, more: false } })
  t.match(await api(server, 'GET', '/v1/sync?after=6', { token: alice }), { status: 400, body: { error: { code: 'invalid_cursor' } } })
  t.match(await api(server, 'GET', '/v1/sync', { token: alice }), { body: { upTo: 5 } }, 'after defaults to 0')
})

t.test('presence', async (t) => {
  const server = await startServer(t, { DUOLOG_WS_HEARTBEAT_MS: '100', DUOLOG_PRESENCE_VISIBILITY: 'everyone', DUOLOG_PRESENCE_GRACE_MS: '0' })
  const [alice, bob] = await users(server, 'alice', 'bob', 'carol')
  t.match(await api(server, 'GET', '/v1/presence/bob', { token: alice }), { status: 200, body: { userId: 'bob', online: false, connections: 0, lastSeen: null } })
  const b1 = await Client.connect(server, bob)
  const b2 = await Client.connect(server, bob)
  const online = await api(server, 'GET', '/v1/presence/bob', { token: alice })
  t.match(online.body, { online: true, connections: 2 })
  await b1.close()
  t.match(await api(server, 'GET', '/v1/presence/bob', { token: alice }), { body: { online: true, connections: 1 } })
  const before = Date.now()
  await b2.close()
  let offline = await api(server, 'GET', '/v1/presence/bob', { token: alice })
  for (let i = 0; i < 50 && offline.body.online === true; i++) offline = await api(server, 'GET', '/v1/presence/bob', { token: alice })
  t.match(offline.body, { online: false, connections: 0 })
  t.ok(Date.parse(offline.body.lastSeen) >= before - 1000, 'lastSeen is when the last connection closed')

  const list = await api(server, 'GET', '/v1/presence?ids=carol,nobody,bob,carol', { token: alice })
  t.same(list.body.presence.map((p: any) => p.userId), ['carol', 'bob'], 'known users, in the order asked, once each')
  t.match(await api(server, 'GET', '/v1/presence/nobody', { token: alice }), { status: 404 })
  const many = Array.from({ length: 101 }, (_, i) => `u${i}`).join(',')
  t.match(await api(server, 'GET', `/v1/presence?ids=${many}`, { token: alice }), { status: 400 })
  t.match(await api(server, 'GET', '/v1/presence?ids=bad%20id', { token: alice }), { status: 400 })
  t.match(await api(server, 'GET', '/v1/presence', { token: alice }), { status: 400 })
})

t.test('health, readiness, unknown routes and the WebSocket route without upgrade', async (t) => {
  const server = await startServer(t)
  t.match(await api(server, 'GET', '/healthz'), { status: 200, body: { status: 'ok' } })
  t.match(await api(server, 'GET', '/readyz'), { status: 200, body: { status: 'ready' } })
  t.match(await api(server, 'GET', '/v1/nothing'), { status: 404, body: { error: { code: 'not_found' } } })
  t.match(await api(server, 'GET', '/v1/ws'), { status: 426, body: { error: { code: 'upgrade_required' } } })
  await server.app.store.close()
  t.match(await api(server, 'GET', '/readyz'), { status: 503, body: { error: { code: 'not_ready' } } }, 'not ready when the store is gone')
  t.match(await api(server, 'GET', '/healthz'), { status: 200 }, 'but alive')
})
