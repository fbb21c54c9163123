import t, { type Test } from 'tap'
import { join } from 'node:path'
import pg from 'pg'
import { Client, api, inspectDatabase, serviceToken, startServer, users, type TestServer } from '../helpers.js'
import { postgresUrl, schemaForTest } from '../services.js'

async function signup (server: TestServer, id: string): Promise<void> {
  const res = await api(server, 'POST', '/v1/users', { body: { id, password: `${id}-password`, displayName: `${id} (display)` } })
  if (res.status !== 201) throw new Error(JSON.stringify(res.body))
}

async function login (server: TestServer, id: string, password = `${id}-password`): Promise<{ accessToken: string, refreshToken: string } & { status: number }> {
  const res = await api(server, 'POST', '/v1/auth/login', { body: { id, password } })
  return { ...res.body, status: res.status }
}

t.test('a user reads and renames their account; a password change needs the current one and ends the other sessions', async (t) => {
  const server = await startServer(t)
  await signup(server, 'alice')
  await signup(server, 'bob')
  const here = await login(server, 'alice')
  const elsewhere = await login(server, 'alice')
  const bob = await login(server, 'bob')
  const service = await serviceToken(server)

  t.match(await api(server, 'GET', '/v1/users/alice', { token: here.accessToken }), { status: 200, body: { id: 'alice', displayName: 'alice (display)', createdAt: /^\d{4}-/ } })
  t.match(await api(server, 'GET', '/v1/users/alice', { token: bob.accessToken }), { status: 403 }, 'not another user\'s')
  t.match(await api(server, 'GET', '/v1/users/nobody', { token: service }), { status: 404 })
  t.match(await api(server, 'PATCH', '/v1/users/alice', { token: here.accessToken, body: { displayName: 'Alice A.' } }), { status: 200, body: { displayName: 'Alice A.' } })
  t.match(await api(server, 'PATCH', '/v1/users/alice', { token: bob.accessToken, body: { displayName: 'pwned' } }), { status: 403 })
  t.match(await api(server, 'PATCH', '/v1/users/alice', { token: service, body: { displayName: 'Alice (by the backend)' } }), { status: 200 })
  t.match(await api(server, 'GET', '/v1/users/alice', { token: here.accessToken }), { body: { displayName: 'Alice (by the backend)' } })
  t.match(await api(server, 'PATCH', '/v1/users/alice', { token: here.accessToken, body: {} }), { status: 400 })

  const otherSocket = await Client.connect(server, elsewhere.accessToken)
  const thisSocket = await Client.connect(server, here.accessToken)
  t.match(await api(server, 'PATCH', '/v1/users/alice', { token: here.accessToken, body: { password: 'a-new-password' } }), { status: 400, body: { error: { message: /currentPassword/ } } })
  t.match(await api(server, 'PATCH', '/v1/users/alice', { token: here.accessToken, body: { password: 'a-new-password', currentPassword: 'wrong' } }), { status: 401, body: { error: { code: 'invalid_credentials' } } })
  t.match(await api(server, 'PATCH', '/v1/users/alice', { token: here.accessToken, body: { password: 'a-new-password', currentPassword: 'alice-password' } }), { status: 200 })
  t.same(await otherSocket.closed, { code: 4509, reason: 'password_changed' }, 'the other session\'s socket closes')
  t.match(await api(server, 'GET', '/v1/sync', { token: elsewhere.accessToken }), { status: 401 }, 'its token stops working')
  t.match(await api(server, 'POST', '/v1/auth/refresh', { body: { refreshToken: elsewhere.refreshToken } }), { status: 401 }, 'and its refresh token')
  thisSocket.send({ type: 'ping' })
  t.same(await thisSocket.next(), { type: 'pong' }, 'the caller\'s own session stays')
  t.equal((await api(server, 'GET', '/v1/sync', { token: here.accessToken })).status, 200)
  t.equal((await login(server, 'alice')).status, 401, 'the old password no longer logs in')
  t.equal((await login(server, 'alice', 'a-new-password')).status, 200, 'the new one does')
  await thisSocket.close()
})

async function deletion (t: Test, server: TestServer, readContent: () => Promise<{ sent: string[], events: string }>): Promise<void> {
  await signup(server, 'alice')
  await signup(server, 'bob')
  const alice = await login(server, 'alice')
  const bob = await login(server, 'bob')
  const service = await serviceToken(server)
  await api(server, 'POST', '/v1/messages', { token: alice.accessToken, body: { to: 'bob', content: 'alice secret one', clientMsgId: 'a1' } })
  await api(server, 'POST', '/v1/messages', { token: bob.accessToken, body: { to: 'alice', content: 'bob writes back' } })
  await api(server, 'POST', '/v1/messages', { token: alice.accessToken, body: { to: 'bob', content: 'alice secret two' } })
  const socket = await Client.connect(server, alice.accessToken)

  t.match(await api(server, 'DELETE', '/v1/users/alice', { token: bob.accessToken }), { status: 403 }, 'not by another user')
  t.match(await api(server, 'DELETE', '/v1/users/alice', { token: alice.accessToken, body: { password: 'wrong' } }), { status: 401 })
  t.match(await api(server, 'DELETE', '/v1/users/alice', { token: alice.accessToken, body: {} }), { status: 400 })
  t.equal((await api(server, 'DELETE', '/v1/users/alice', { token: alice.accessToken, body: { password: 'alice-password' } })).status, 204)
  t.same(await socket.closed, { code: 4507, reason: 'user_deleted' }, 'every socket closes')
  t.match(await api(server, 'GET', '/v1/sync', { token: alice.accessToken }), { status: 401 }, 'every token ends')
  t.match(await api(server, 'POST', '/v1/auth/refresh', { body: { refreshToken: alice.refreshToken } }), { status: 401 })
  t.equal((await login(server, 'alice')).status, 401)
  t.match(await api(server, 'GET', '/v1/users/alice', { token: service }), { status: 404 })
  t.match(await api(server, 'DELETE', '/v1/users/alice', { token: service }), { status: 404 }, 'once')

  // bob keeps the entries, without alice's content; his own message stays.
  const history = await api(server, 'GET', '/v1/conversations/alice/messages', { token: bob.accessToken })
  t.same(history.body.messages.map((m: any) => [m.from, m.content, m.deletedAt === undefined]), [['alice', '', false], ['bob', 'bob writes back', true], ['alice', '', false]])
  const sync = await api(server, 'GET', '/v1/sync?after=0', { token: bob.accessToken })
  t.same(sync.body.messages.map((m: any) => m.content), ['', 'bob writes back', ''])
  t.match(await api(server, 'POST', '/v1/messages', { token: bob.accessToken, body: { to: 'alice', content: 'are you there?' } }), { status: 404, body: { error: { code: 'unknown_recipient' } } })

  // The id is never given again, in any case: a new account cannot read the old one's messages.
  t.match(await api(server, 'POST', '/v1/users', { body: { id: 'alice', password: 'new-alice-password' } }), { status: 409 })
  t.match(await api(server, 'POST', '/v1/users', { body: { id: 'Alice', password: 'new-alice-password' } }), { status: 409 })
  t.match(await api(server, 'POST', '/v1/users', { token: service, body: { id: 'alice' } }), { status: 409 })
  t.match(await api(server, 'POST', '/v1/users/alice/tokens', { token: service }), { status: 404 })

  const stored = await readContent()
  t.same(stored.sent, ['', ''], 'alice\'s content is gone from the store')
  t.notOk(stored.events.includes('alice secret'), 'and from the webhook outbox')
}

t.test('deleting an account (SQLite): sessions end, sent content is erased, peers keep contentless entries, the id is never reused', async (t) => {
  const server = await startServer(t, { DUOLOG_WEBHOOK_URL: 'http://127.0.0.1:1/hooks', DUOLOG_WEBHOOK_SECRET: 'whsec_' + Buffer.from('a secret of some length').toString('base64') })
  await deletion(t, server, async () => {
    await server.app.close()
    const db = inspectDatabase(join(server.dataDir, 'duolog.db'))
    t.teardown(() => db.close())
    t.notOk(JSON.stringify(db.prepare('SELECT * FROM messages').all()).includes('alice secret'), 'no row holds it')
    t.equal(db.prepare('SELECT count(*) FROM webhook_events WHERE type = \'user.deleted\'').pluck().get(), 1, 'user.deleted is in the outbox')
    return {
      sent: db.prepare('SELECT content FROM messages WHERE sender = \'alice\' ORDER BY id').pluck().all() as string[],
      events: JSON.stringify(db.prepare('SELECT data FROM webhook_events').all())
    }
  })
})

const databaseUrl = postgresUrl()
if (databaseUrl !== undefined) {
  t.test('deleting an account (PostgreSQL): the same, checked in the database', async (t) => {
    const schema = schemaForTest(t, databaseUrl)
    const server = await startServer(t, {
      DUOLOG_DATABASE_URL: databaseUrl,
      DUOLOG_DATABASE_SCHEMA: schema,
      DUOLOG_WEBHOOK_URL: 'http://127.0.0.1:1/hooks',
      DUOLOG_WEBHOOK_SECRET: 'whsec_' + Buffer.from('a secret of some length').toString('base64')
    })
    await deletion(t, server, async () => {
      const client = new pg.Client({ connectionString: databaseUrl })
      await client.connect()
      t.teardown(() => client.end())
      const messages = await client.query(`SELECT * FROM ${schema}.messages`)
      t.notOk(JSON.stringify(messages.rows).includes('alice secret'), 'no row holds it')
      const sent = await client.query(`SELECT content FROM ${schema}.messages WHERE sender = 'alice' ORDER BY id`)
      const events = await client.query(`SELECT type, data FROM ${schema}.webhook_events`)
      t.ok(events.rows.some((r) => r.type === 'user.deleted'))
      return { sent: sent.rows.map((r) => r.content), events: JSON.stringify(events.rows) }
    })
  })
}

t.test('an account without a password is deleted by a service only', async (t) => {
  const server = await startServer(t)
  const [carol] = await users(server, 'carol')
  t.match(await api(server, 'DELETE', '/v1/users/carol', { token: carol, body: { password: 'anything' } }), { status: 403, body: { error: { message: /no password/ } } })
  t.equal((await api(server, 'DELETE', '/v1/users/carol', { token: await serviceToken(server) })).status, 204)
})
