import t from 'tap'
import { Client, api, startServer, users, type TestServer } from './helpers.js'
import { postgresUrl, redisUrl, schemaForTest } from './services.js'

const databaseUrl = postgresUrl()
const redis = redisUrl()
if (databaseUrl !== undefined && redis !== undefined) {
  /** Instances sharing one PostgreSQL schema and one Redis prefix: a cluster. */
  async function cluster (t: Parameters<typeof startServer>[0] & { teardown: (fn: () => unknown) => void }, size: number): Promise<TestServer[]> {
    const schema = schemaForTest(t, databaseUrl as string)
    const env = { DUOLOG_DATABASE_URL: databaseUrl, DUOLOG_DATABASE_SCHEMA: schema, DUOLOG_REDIS_URL: redis, DUOLOG_REDIS_PREFIX: `${schema}:` }
    const servers: TestServer[] = []
    for (let i = 0; i < size; i++) servers.push(await startServer(t, env))
    return servers
  }

  t.test('messages, receipts and typing cross instances; every device gets its stream in order', async (t) => {
    const [one, two] = await cluster(t, 2) as [TestServer, TestServer]
    const [alice, bob] = await users(one, 'alice', 'bob')
    const aliceOnOne = await Client.connect(one, alice)
    const aliceOnTwo = await Client.connect(two, alice)
    const bobOnTwo = await Client.connect(two, bob)
    const bobOnOne = await Client.connect(one, bob)

    for (let i = 1; i <= 20; i++) aliceOnOne.send({ type: 'send', to: 'bob', content: `m${i}` })
    for (let i = 1; i <= 20; i++) t.equal((await aliceOnOne.next('sent')).seq, i)
    for (const device of [bobOnTwo, bobOnOne, aliceOnTwo]) {
      const seqs: number[] = []
      for (let i = 0; i < 20; i++) seqs.push((await device.next('message')).seq)
      t.same(seqs, Array.from({ length: 20 }, (_, i) => i + 1), 'dense and in order on every device, whatever instance')
    }
    const overHttp = await api(two, 'POST', '/v1/messages', { token: bob, body: { to: 'alice', content: 'from instance two' } })
    t.match(await aliceOnOne.next('message'), { content: 'from instance two', seq: 21 })
    t.match(await aliceOnTwo.next('message'), { content: 'from instance two', seq: 21 })
    for (const device of [bobOnTwo, bobOnOne]) t.match(await device.next('message'), { content: 'from instance two', seq: 21 }, 'the sender\'s devices too')

    bobOnTwo.send({ type: 'ack', upTo: 21 })
    t.match(await aliceOnOne.next('receipt'), { kind: 'delivered', by: 'bob' })
    bobOnTwo.send({ type: 'typing', to: 'alice', state: 'start' })
    t.match(await aliceOnOne.next('typing'), { from: 'bob', state: 'start' })
    aliceOnOne.send({ type: 'read', peer: 'bob', upTo: overHttp.body.id })
    t.match(await bobOnTwo.next('receipt'), { kind: 'read', by: 'alice' })
    // alice's second device also got the delivered receipt and the typing frame before it.
    t.match(await aliceOnTwo.next('receipt'), { kind: 'delivered', by: 'bob' })
    t.match(await aliceOnTwo.next('typing'), { from: 'bob' })
    t.match(await aliceOnTwo.next('receipt'), { kind: 'read', by: 'alice', peer: 'bob' }, 'the reader\'s device on the other instance')
  })

  t.test('a logout on one instance closes the session\'s sockets and refuses its token on the other', async (t) => {
    const [one, two] = await cluster(t, 2) as [TestServer, TestServer]
    await api(one, 'POST', '/v1/users', { body: { id: 'carol', password: 'carol-password' } })
    const login = await api(two, 'POST', '/v1/auth/login', { body: { id: 'carol', password: 'carol-password' } })
    const socket = await Client.connect(two, login.body.accessToken)
    t.match(await api(one, 'POST', '/v1/auth/logout', { token: login.body.accessToken }), { status: 204 })
    t.same(await socket.closed, { code: 4503, reason: 'logged_out' })
    t.match(await api(two, 'GET', '/v1/sync', { token: login.body.accessToken }), { status: 401 }, 'the other instance heard of it')
  })
}

if (redis !== undefined) {
  t.test('with Redis unreachable, sends are still stored and acknowledged, and reach recipients on their next sync', async (t) => {
    // Nothing listens on port 1: the bus never connects.
    const server = await startServer(t, { DUOLOG_REDIS_URL: 'redis://127.0.0.1:1' })
    const [alice, bob] = await users(server, 'alice', 'bob')
    const a = await Client.connect(server, alice)
    a.send({ type: 'send', to: 'bob', content: 'while redis is down', clientMsgId: 'r1' })
    t.match(await a.next('sent'), { seq: 1 }, 'acknowledged once stored')
    t.match(await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'over http too' } }), { status: 201 })
    const b = await Client.connect(server, bob, { after: 0 })
    t.same([(await b.next('message')).content, (await b.next('message')).content], ['while redis is down', 'over http too'])
    t.match(await b.next(), { type: 'synced', upTo: 2 })
  })
}
