import t from 'tap'
import { join } from 'node:path'
import { Client, api, inspectDatabase, serviceToken, sleep, startServer, users } from '../helpers.js'

t.test('edit and delete converge on every device: one online, one that syncs later', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob') as [string, string]
  const alicePhone = await Client.connect(server, alice)
  const bobPhone = await Client.connect(server, bob)

  alicePhone.send({ type: 'send', to: 'bob', content: 'helo', clientMsgId: 'c1' })
  const sent = await alicePhone.next('sent')
  t.match(await bobPhone.next('message'), { id: sent.id, seq: 1, content: 'helo' })

  alicePhone.send({ type: 'edit', id: sent.id, content: 'hello' })
  const edited = await bobPhone.next('edited')
  t.match(edited, { type: 'edited', id: sent.id, seq: 2, from: 'alice', to: 'bob', content: 'hello', editedAt: /^\d{4}-/ })
  t.match(await alicePhone.next('edited'), { id: sent.id, seq: 2, content: 'hello' }, 'the sender\'s devices too')

  const deleted = await api(server, 'DELETE', `/v1/messages/${sent.id}`, { token: alice })
  t.equal(deleted.status, 204)
  t.match(await bobPhone.next('deleted'), { type: 'deleted', id: sent.id, seq: 3, content: '', deletedAt: /^\d{4}-/ })
  t.match(await alicePhone.next('deleted'), { id: sent.id, seq: 3 })

  // bob's laptop was away: it syncs the whole stream and ends where the phone is.
  const laptop = await Client.connect(server, bob, { after: 0 })
  const replay = [await laptop.next(), await laptop.next(), await laptop.next()]
  t.same(replay.map((f) => [f.type, f.seq, f.id, f.content]), [['message', 1, sent.id, ''], ['edited', 2, sent.id, ''], ['deleted', 3, sent.id, '']],
    'each entry at its seq, each showing the message as it is now')
  t.match(replay[0], { deletedAt: /^\d{4}-/, editedAt: /^\d{4}-/ })
  t.match(await laptop.next('synced'), { upTo: 3, more: false })

  const sync = await api(server, 'GET', '/v1/sync?after=0', { token: bob })
  t.match(sync.body, { upTo: 3, more: false })
  t.same(sync.body.messages.map((m: any) => [m.seq, m.kind]), [[1, undefined], [2, 'edited'], [3, 'deleted']])
  const history = await api(server, 'GET', '/v1/conversations/alice/messages', { token: bob })
  t.match(history.body.messages, [{ id: sent.id, content: '', deletedAt: /^\d{4}-/ }], 'history shows it deleted, without content')
  t.equal(history.body.messages.length, 1, 'one message, not one per change')

  await server.app.close()
  const db = inspectDatabase(join(server.dataDir, 'duolog.db'))
  t.teardown(() => db.close())
  t.same(db.prepare('SELECT content FROM messages').pluck().all(), [''], 'the content is gone from the store')
  t.notOk(JSON.stringify(db.prepare('SELECT * FROM messages').all()).includes('hel'), 'nowhere in the row')
})

t.test('only the sender or a service changes a message; clear errors otherwise', async (t) => {
  const server = await startServer(t)
  const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol') as [string, string, string]
  const service = await serviceToken(server)
  const sent = (await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'original' } })).body

  t.match(await api(server, 'PATCH', `/v1/messages/${sent.id}`, { token: bob, body: { content: 'forged' } }), { status: 403, body: { error: { code: 'forbidden' } } }, 'the recipient: 403')
  t.match(await api(server, 'PATCH', `/v1/messages/${sent.id}`, { token: carol, body: { content: 'forged' } }), { status: 404, body: { error: { code: 'not_found' } } }, 'a stranger: 404, as if it did not exist')
  t.match(await api(server, 'DELETE', `/v1/messages/${sent.id}`, { token: bob }), { status: 403 })
  t.match(await api(server, 'PATCH', '/v1/messages/999999', { token: alice, body: { content: 'x' } }), { status: 404, body: { error: { code: 'not_found' } } })
  t.match(await api(server, 'PATCH', `/v1/messages/${sent.id}`, { token: alice, body: { content: '' } }), { status: 400 })
  t.match(await api(server, 'PATCH', `/v1/messages/${sent.id}`, { token: alice, body: { content: 'x'.repeat(4001) } }), { status: 400 })
  t.match(await api(server, 'PATCH', `/v1/messages/${sent.id}`, { token: alice, body: { content: 'x', extra: 1 } }), { status: 400 })

  const byService = await api(server, 'PATCH', `/v1/messages/${sent.id}`, { token: service, body: { content: 'moderated' } })
  t.match(byService, { status: 200, body: { id: sent.id, from: 'alice', to: 'bob', content: 'moderated', editedAt: /^\d{4}-/ } }, 'a service may (moderation)')
  t.match(await api(server, 'PATCH', `/v1/messages/${sent.id}`, { token: alice, body: { content: 'mine again' } }), { status: 200, body: { content: 'mine again', seq: 1 } })
  t.equal((await api(server, 'DELETE', `/v1/messages/${sent.id}`, { token: alice })).status, 204)
  t.match(await api(server, 'DELETE', `/v1/messages/${sent.id}`, { token: alice }), { status: 409, body: { error: { code: 'message_deleted' } } })
  t.match(await api(server, 'PATCH', `/v1/messages/${sent.id}`, { token: service, body: { content: 'revive' } }), { status: 409, body: { error: { code: 'message_deleted' } } }, 'not even a service revives it')

  // Over the WebSocket the refusal is an error frame whose ref is the message id.
  const aliceSocket = await Client.connect(server, alice)
  aliceSocket.send({ type: 'edit', id: sent.id, content: 'x' })
  t.match(await aliceSocket.next('error'), { code: 'message_deleted', ref: String(sent.id) })
  const bobSocket = await Client.connect(server, bob)
  bobSocket.send({ type: 'delete', id: sent.id })
  t.match(await bobSocket.next('error'), { code: 'forbidden', ref: String(sent.id) })
  bobSocket.send({ type: 'delete', id: 12345 })
  t.match(await bobSocket.next('error'), { code: 'not_found', ref: '12345' })
  bobSocket.send({ type: 'edit', id: 'x', content: 'y' })
  t.match(await bobSocket.next('error'), { code: 'invalid_frame' })

  // A retry of the original send (same clientMsgId) after an edit is still a duplicate.
  const keyed = (await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'v1', clientMsgId: 'k' } })).body
  await api(server, 'PATCH', `/v1/messages/${keyed.id}`, { token: alice, body: { content: 'v2' } })
  t.match(await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'v1', clientMsgId: 'k' } }), { status: 200, body: { id: keyed.id } })
})

t.test('DUOLOG_EDIT_WINDOW_S: a user may change a message only that long after sending it; a service always', async (t) => {
  const server = await startServer(t, { DUOLOG_EDIT_WINDOW_S: '1' })
  const [alice] = await users(server, 'alice', 'bob') as [string, string]
  const sent = (await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'soon' } })).body
  t.equal((await api(server, 'PATCH', `/v1/messages/${sent.id}`, { token: alice, body: { content: 'in time' } })).status, 200)
  await sleep(1100)
  t.match(await api(server, 'PATCH', `/v1/messages/${sent.id}`, { token: alice, body: { content: 'too late' } }), { status: 403, body: { error: { message: /DUOLOG_EDIT_WINDOW_S/ } } })
  t.match(await api(server, 'DELETE', `/v1/messages/${sent.id}`, { token: alice }), { status: 403 })
  t.equal((await api(server, 'DELETE', `/v1/messages/${sent.id}`, { token: await serviceToken(server) })).status, 204)
})
