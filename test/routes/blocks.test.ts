import t, { type Test } from 'tap'
import { Client, api, serviceToken, sleep, startServer, users, type TestServer } from '../helpers.js'
import { postgresUrl, schemaForTest } from '../services.js'
import type { Env } from '../../src/config.js'

async function blockedSenderSeesSuccess (t: Test, server: TestServer): Promise<void> {
  const [alice, mallory] = await users(server, 'alice', 'mallory') as [string, string]
  // Before the block: a conversation that stays.
  const before = (await api(server, 'POST', '/v1/messages', { token: mallory, body: { to: 'alice', content: 'before the block' } })).body
  t.equal((await api(server, 'PUT', '/v1/blocks/mallory', { token: alice })).status, 204)
  t.match(await api(server, 'GET', '/v1/blocks', { token: alice }), { status: 200, body: { blocks: [{ userId: 'mallory', createdAt: /^\d{4}-/ }] } })

  const alicePhone = await Client.connect(server, alice)
  const malloryPhone = await Client.connect(server, mallory)
  malloryPhone.send({ type: 'send', to: 'alice', content: 'over the socket', clientMsgId: 'm1' })
  t.match(await malloryPhone.next('sent'), { clientMsgId: 'm1', seq: 2 }, 'the blocked sender sees success')
  const overHttp = await api(server, 'POST', '/v1/messages', { token: mallory, body: { to: 'alice', content: 'over http' } })
  t.match(overHttp, { status: 201, body: { seq: 3 } }, 'over HTTP too')
  malloryPhone.send({ type: 'typing', to: 'alice', state: 'start' })
  await sleep(300)
  t.same(alicePhone.unread(), [], 'the blocker gets nothing: no message, no typing')

  t.match(await api(server, 'GET', '/v1/sync?after=0', { token: alice }), { body: { messages: [{ content: 'before the block' }], upTo: 1 } }, 'nothing in the blocker\'s stream')
  const history = await api(server, 'GET', '/v1/conversations/mallory/messages', { token: alice })
  t.same(history.body.messages.map((m: any) => m.content), ['before the block'], 'nor in the blocker\'s history; what came before stays')
  t.match(await api(server, 'GET', '/v1/conversations', { token: alice }), { body: { conversations: [{ peer: 'mallory', unread: 1, lastMessage: { id: before.id } }] } }, 'nothing counted unread')
  const theirs = await api(server, 'GET', '/v1/conversations/alice/messages', { token: mallory })
  t.same(theirs.body.messages.map((m: any) => m.content), ['over http', 'over the socket', 'before the block'], 'the sender sees their own messages')
  t.match(await api(server, 'POST', '/v1/conversations/mallory/read', { token: alice, body: { upTo: overHttp.body.id } }), { status: 400 }, 'the blocker cannot be told of a hidden message')

  // Presence both ways, while the block lasts.
  t.match(await api(server, 'GET', '/v1/presence/alice', { token: mallory }), { status: 404 }, 'the blocked user cannot see the blocker\'s presence')
  t.match(await api(server, 'GET', '/v1/presence/mallory', { token: alice }), { status: 404 }, 'nor the blocker the blocked user\'s')
  t.match(await api(server, 'GET', '/v1/presence/alice', { token: await serviceToken(server) }), { status: 200 }, 'services see all')

  // Unblocked: new messages reach alice again; the hidden ones stay hidden.
  t.equal((await api(server, 'DELETE', '/v1/blocks/mallory', { token: alice })).status, 204)
  t.match(await api(server, 'GET', '/v1/blocks', { token: alice }), { body: { blocks: [] } })
  malloryPhone.send({ type: 'send', to: 'alice', content: 'after the block' })
  t.match(await alicePhone.next('message'), { content: 'after the block', seq: 2 }, 'dense: the hidden messages took no seq of alice\'s')
  await alicePhone.close()
  await malloryPhone.close()
}

t.test('a blocked sender sees success and the blocker sees nothing (SQLite)', async (t) => {
  await blockedSenderSeesSuccess(t, await startServer(t, { DUOLOG_PRESENCE_VISIBILITY: 'everyone' }))
})

const databaseUrl = postgresUrl()
if (databaseUrl !== undefined) {
  t.test('a blocked sender sees success and the blocker sees nothing (PostgreSQL)', async (t) => {
    const env: Env = { DUOLOG_DATABASE_URL: databaseUrl, DUOLOG_DATABASE_SCHEMA: schemaForTest(t, databaseUrl), DUOLOG_PRESENCE_VISIBILITY: 'everyone' }
    await blockedSenderSeesSuccess(t, await startServer(t, env))
  })
}

t.test('a new block ends presence watches both ways at once; typing is dropped', async (t) => {
  const server = await startServer(t, { DUOLOG_PRESENCE_VISIBILITY: 'everyone', DUOLOG_PRESENCE_GRACE_MS: '0' })
  const [alice, bob] = await users(server, 'alice', 'bob') as [string, string]
  const a = await Client.connect(server, alice)
  const b = await Client.connect(server, bob)
  a.send({ type: 'watch', users: ['bob'] })
  t.match(await a.next('presence'), { userId: 'bob', online: true })
  b.send({ type: 'watch', users: ['alice'] })
  t.match(await b.next('presence'), { userId: 'alice', online: true })
  t.equal((await api(server, 'PUT', '/v1/blocks/alice', { token: bob })).status, 204)
  await sleep(100)
  const bobLaptop = await Client.connect(server, bob)
  await bobLaptop.close()
  await b.close()
  await sleep(300)
  t.same(a.unread().filter((f) => f.type === 'presence'), [], 'alice no longer hears of bob going online or offline')
  a.send({ type: 'watch', users: ['bob'] })
  a.send({ type: 'ping' })
  t.same(await a.next(), { type: 'pong' }, 'and cannot watch him again: silently left out')
})

t.test('bad block requests: clear errors; services act for a user', async (t) => {
  const server = await startServer(t)
  const [alice] = await users(server, 'alice', 'bob') as [string, string]
  const service = await serviceToken(server)
  t.match(await api(server, 'PUT', '/v1/blocks/alice', { token: alice }), { status: 400, body: { error: { code: 'invalid_request' } } })
  t.match(await api(server, 'PUT', '/v1/blocks/nobody', { token: alice }), { status: 404, body: { error: { code: 'not_found' } } })
  t.match(await api(server, 'PUT', '/v1/blocks/bob?as=bob', { token: alice }), { status: 403 })
  t.match(await api(server, 'PUT', '/v1/blocks/bob', { token: service }), { status: 400, body: { error: { message: /as=/ } } })
  t.equal((await api(server, 'PUT', '/v1/blocks/bob?as=alice', { token: service })).status, 204)
  t.equal((await api(server, 'PUT', '/v1/blocks/bob?as=alice', { token: service })).status, 204, 'again: no change')
  t.match(await api(server, 'GET', '/v1/blocks?as=alice', { token: service }), { body: { blocks: [{ userId: 'bob' }] } })
  t.match(await api(server, 'GET', '/v1/blocks', { token: alice }), { body: { blocks: [{ userId: 'bob' }] } })
  t.equal((await api(server, 'DELETE', '/v1/blocks/bob?as=alice', { token: service })).status, 204)
  t.equal((await api(server, 'DELETE', '/v1/blocks/bob', { token: alice })).status, 204, 'no block: still 204')
})
