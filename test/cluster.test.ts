import t from 'tap'
import type { Test } from 'tap'
import { Client, JWT_SECRET, SERVICE_ID, SERVICE_SECRET, api, eventually, serviceToken, sleep, startServer, tempDir, users, type TestServer } from './helpers.js'
import { exitOf, listening, spawnServer } from './process.js'
import { postgresUrl, privateRedis, redisUrl, schemaForTest } from './services.js'
import type { Env } from '../src/config.js'

const databaseUrl = postgresUrl()
const redis = redisUrl()
if (databaseUrl !== undefined && redis !== undefined) {
  /** The environment of one cluster: one PostgreSQL schema and one Redis prefix. */
  function clusterEnv (t: Test, overrides: Env = {}): Env {
    const schema = schemaForTest(t, databaseUrl as string)
    return {
      DUOLOG_DATABASE_URL: databaseUrl,
      DUOLOG_DATABASE_SCHEMA: schema,
      DUOLOG_REDIS_URL: redis,
      DUOLOG_REDIS_PREFIX: `${schema}:`,
      DUOLOG_PRESENCE_VISIBILITY: 'everyone',
      ...overrides
    }
  }

  /** Three instances in this process, behind no load balancer: each test picks the instance per client. */
  async function cluster (t: Test, overrides: Env = {}): Promise<[TestServer, TestServer, TestServer]> {
    const env = clusterEnv(t, overrides)
    return [await startServer(t, env), await startServer(t, env), await startServer(t, env)]
  }

  /** Reads frames until `count` messages came (stream entries of the device), in arrival order. */
  async function messages (client: Client, count: number, timeoutMs = 10_000): Promise<number[]> {
    const seqs: number[] = []
    while (seqs.length < count) {
      const frame = await client.next(undefined, timeoutMs)
      if (frame.type === 'message') seqs.push(frame.seq)
    }
    return seqs
  }

  const dense = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => i + from)

  t.test('messages, receipts and typing cross instances; every device gets its stream in order', async (t) => {
    const [one, two, three] = await cluster(t)
    const [alice, bob] = await users(one, 'alice', 'bob')
    const aliceOnOne = await Client.connect(one, alice)
    const aliceOnThree = await Client.connect(three, alice)
    const bobOnTwo = await Client.connect(two, bob)
    const bobOnThree = await Client.connect(three, bob)

    for (let i = 1; i <= 20; i++) aliceOnOne.send({ type: 'send', to: 'bob', content: `m${i}` })
    for (let i = 1; i <= 20; i++) t.equal((await aliceOnOne.next('sent')).seq, i)
    for (const device of [bobOnTwo, bobOnThree, aliceOnThree]) {
      t.same(await messages(device, 20), dense(20), 'dense and in order on every device, whatever instance')
    }
    const overHttp = await api(two, 'POST', '/v1/messages', { token: bob, body: { to: 'alice', content: 'from instance two' } })
    for (const device of [aliceOnOne, aliceOnThree, bobOnTwo, bobOnThree]) {
      t.match(await device.next('message'), { content: 'from instance two', seq: 21 }, 'both users\' devices')
    }

    bobOnTwo.send({ type: 'ack', upTo: 21 })
    t.match(await aliceOnOne.next('receipt'), { kind: 'delivered', by: 'bob' })
    bobOnTwo.send({ type: 'typing', to: 'alice', state: 'start' })
    t.match(await aliceOnOne.next('typing'), { from: 'bob', state: 'start' })
    aliceOnOne.send({ type: 'read', peer: 'bob', upTo: overHttp.body.id })
    t.match(await bobOnTwo.next('receipt'), { kind: 'read', by: 'alice' })
    t.match(await bobOnThree.next('receipt'), { kind: 'read', by: 'alice' }, 'the peer\'s other device')
    // alice's second device also got the delivered receipt and the typing frame before it.
    t.match(await aliceOnThree.next('receipt'), { kind: 'delivered', by: 'bob' })
    t.match(await aliceOnThree.next('typing'), { from: 'bob' })
    t.match(await aliceOnThree.next('receipt'), { kind: 'read', by: 'alice', peer: 'bob' }, 'the reader\'s device on another instance')
  })

  t.test('a logout on one instance closes the session\'s sockets on the others and refuses its token', async (t) => {
    const [one, two, three] = await cluster(t)
    await api(one, 'POST', '/v1/users', { body: { id: 'carol', password: 'carol-password' } })
    const login = await api(two, 'POST', '/v1/auth/login', { body: { id: 'carol', password: 'carol-password' } })
    const onTwo = await Client.connect(two, login.body.accessToken)
    const onThree = await Client.connect(three, login.body.accessToken)
    t.match(await api(one, 'POST', '/v1/auth/logout', { token: login.body.accessToken }), { status: 204 })
    t.same(await onTwo.closed, { code: 4503, reason: 'logged_out' })
    t.same(await onThree.closed, { code: 4503, reason: 'logged_out' })
    t.match(await api(three, 'GET', '/v1/sync', { token: login.body.accessToken }), { status: 401 }, 'the other instances heard of it')
  })

  t.test('a service revoking a user on one instance closes the user\'s sockets on the others; a token expires on any instance', async (t) => {
    // exp has a resolution of one second: a 3 s token lives between 2 and 3 s.
    const [one, two, three] = await cluster(t, { DUOLOG_ACCESS_TOKEN_TTL: '3', DUOLOG_CLOCK_TOLERANCE: '0' })
    const [dave, erin] = await users(one, 'dave', 'erin')
    const onTwo = await Client.connect(two, dave)
    const onThree = await Client.connect(three, dave)
    const erinOnTwo = await Client.connect(two, erin)
    const service = await serviceToken(three)
    t.match(await api(one, 'DELETE', '/v1/users/dave/sessions', { token: service }), { status: 200, body: { revoked: 1 } })
    t.same(await onTwo.closed, { code: 4504, reason: 'sessions_revoked' })
    t.same(await onThree.closed, { code: 4504, reason: 'sessions_revoked' })
    t.match(await api(two, 'GET', '/v1/sync', { token: dave }), { status: 401, body: { error: { message: 'the session has ended' } } }, 'refused on every instance')
    // erin's token was minted by instance one; instance two holds her socket and closes it at expiry.
    t.same(await erinOnTwo.closed, { code: 4401, reason: 'token_expired' })
  })

  t.test('presence across instances: one online, connections counted everywhere, a reload elsewhere does not flap', async (t) => {
    const [one, two, three] = await cluster(t, { DUOLOG_PRESENCE_GRACE_MS: '500' })
    const [alice, bob] = await users(one, 'alice', 'bob')
    const watcher = await Client.connect(one, alice)
    watcher.send({ type: 'watch', users: ['bob'] })
    t.same(await watcher.next('presence'), { type: 'presence', userId: 'bob', online: false, lastSeen: null })

    const onTwo = await Client.connect(two, bob)
    t.match(await watcher.next('presence'), { userId: 'bob', online: true })
    const onThree = await Client.connect(three, bob)
    t.match(await api(one, 'GET', '/v1/presence/bob', { token: alice }), { body: { online: true, connections: 2 } }, 'connections on every instance')
    await onTwo.close()
    await onThree.close()
    const reloaded = await Client.connect(one, bob)
    await sleep(900)
    t.same(await watcher.drain(), [], 'last connection closed on two instances, back on a third within the grace: no flap')

    const closedAt = Date.now()
    await reloaded.close()
    const offline = await watcher.next('presence', 5000)
    t.match(offline, { userId: 'bob', online: false })
    t.ok(Date.now() - closedAt >= 450, 'offline only after the grace')
    t.ok(Math.abs(Date.parse(offline.lastSeen) - closedAt) < 300, 'lastSeen is when the last connection closed')
    const got = await api(three, 'GET', '/v1/presence/bob', { token: alice })
    t.match(got.body, { online: false, connections: 0, lastSeen: offline.lastSeen }, 'every instance agrees')
  })

  t.test('an instance that shuts down: its users linger for the grace, then another instance ends them', async (t) => {
    const [one, two] = await cluster(t, { DUOLOG_PRESENCE_GRACE_MS: '300', DUOLOG_PRESENCE_LEASE_MS: '1500' })
    const [alice, carol] = await users(one, 'alice', 'carol')
    const watcher = await Client.connect(one, alice)
    const socket = await Client.connect(two, carol)
    watcher.send({ type: 'watch', users: ['carol'] })
    t.match(await watcher.next('presence'), { userId: 'carol', online: true })
    const closedAt = Date.now()
    await two.app.close()
    t.match(await socket.closed, { code: 4000 }, 'server_shutdown: reconnect elsewhere')
    const offline = await watcher.next('presence', 5000)
    t.match(offline, { userId: 'carol', online: false })
    t.ok(Date.now() - closedAt >= 250, 'not before the grace')
    t.ok(Math.abs(Date.parse(offline.lastSeen) - closedAt) < 500, 'lastSeen is when the instance closed her socket')
  })

  t.test('a Redis restart mid-traffic: every send acknowledged, every stream dense and in order after a resync', async (t) => {
    const privately = await privateRedis(t)
    const [one, two, three] = await cluster(t, { DUOLOG_REDIS_URL: privately.url, DUOLOG_PRESENCE_LEASE_MS: '1500' })
    const [alice, bob] = await users(one, 'alice', 'bob')
    const sender = await Client.connect(one, alice)
    const aliceElsewhere = await Client.connect(three, alice)
    const bobs = [await Client.connect(two, bob), await Client.connect(three, bob)]
    const total = 300
    const sentSeqs: number[] = []
    for (let i = 1; i <= total; i++) {
      sender.send({ type: 'send', to: 'bob', content: `m${i}`, clientMsgId: `c${i}` })
      if (i % 10 === 0) {
        while (sentSeqs.length < i) {
          const frame = await sender.next(undefined, 10_000)
          if (frame.type === 'sent') sentSeqs.push(frame.seq)
        }
      }
      if (i === 100) await privately.stop()
      if (i === 200) await privately.start()
      await sleep(5)
    }
    t.same(sentSeqs, dense(total), 'every send acknowledged (stored) in order, Redis down or not')

    // Whatever the bus lost, a device catches up by asking from the last seq it has.
    for (const device of [...bobs, aliceElsewhere]) {
      await sleep(300)
      const got = (await device.drain()).filter((f) => f.type === 'message').map((f) => f.seq)
      device.send({ type: 'sync', after: got.at(-1) ?? 0 })
      for (;;) {
        const frame = await device.next(undefined, 10_000)
        if (frame.type === 'message') got.push(frame.seq)
        if (frame.type === 'synced' && frame.upTo === total) break
      }
      t.same(got, dense(total), 'no gap, no duplicate, in order')
    }
    // Live again: the instances resubscribed by themselves.
    await eventually(async () => {
      await api(two, 'POST', '/v1/messages', { token: bob, body: { to: 'alice', content: 'live again' } })
      return sender.unread().some((f) => f.type === 'message' && f.content === 'live again')
    }, 10_000)
    t.pass('live delivery across instances after the restart')
    // The restarted Redis is empty: the instances' next lease renewals put presence back.
    await eventually(async () => (await api(one, 'GET', '/v1/presence/bob', { token: alice })).body.connections === 2, 5000)
    t.pass('presence rebuilt after the restart')
  })

  t.test('a logout while Redis is down still lands on every instance: sockets close and the token stops working within the check interval', async (t) => {
    const privately = await privateRedis(t)
    const [one, two, three] = await cluster(t, { DUOLOG_REDIS_URL: privately.url, DUOLOG_REVOCATION_CHECK_MS: '500' })
    const [alice] = await users(one, 'alice', 'bob')
    const onTwo = await Client.connect(two, alice)
    t.match(await api(three, 'GET', '/v1/conversations', { token: alice }), { status: 200 })

    await privately.stop()
    const started = Date.now()
    t.match(await api(one, 'POST', '/v1/auth/logout', { token: alice }), { status: 204 }, 'the logout is stored though the bus cannot carry it')
    t.same(await onTwo.closed, { code: 4506, reason: 'session_ended' }, 'the socket on another instance closes')
    t.match(await api(two, 'GET', '/v1/conversations', { token: alice }), { status: 401 }, 'the token is refused on another instance')
    // Each instance checks on its own timer: the third within the same interval.
    await eventually(async () => (await api(three, 'GET', '/v1/conversations', { token: alice })).status === 401, 3000)
    t.ok(Date.now() - started < 3000, `both within a few check intervals of 500 ms (${Date.now() - started} ms)`)
    await privately.start()
    await sleep(1000)
    t.match(await api(three, 'GET', '/v1/conversations', { token: alice }), { status: 401 }, 'and still after Redis is back')
    await t.rejects(Client.connect(two, alice), /401/, 'no new socket either')
  })

  t.test('an instance killed with SIGKILL: its users go offline within the lease; clients resume elsewhere with no loss', async (t) => {
    const lease = 3000
    const env = clusterEnv(t, { DUOLOG_PRESENCE_LEASE_MS: String(lease), DUOLOG_PRESENCE_GRACE_MS: '200' })
    const one = await startServer(t, env)
    const two = await startServer(t, env)
    const child = spawnServer({
      ...env,
      PORT: '0',
      DUOLOG_DATA_DIR: tempDir(),
      DUOLOG_JWT_SECRET: JWT_SECRET,
      DUOLOG_SERVICE_CLIENTS: `${SERVICE_ID}:${SERVICE_SECRET}`,
      DUOLOG_SEND_RATE: '1000000',
      DUOLOG_SEND_BURST: '1000000',
      DUOLOG_LOG_LEVEL: 'info'
    })
    t.teardown(() => { child.kill('SIGKILL') })
    const doomed = (await listening(child)).replace('http:', 'ws:') + '/v1/ws'
    const [alice, bob, carol] = await users(one, 'alice', 'bob', 'carol')
    const watcher = await Client.connect(one, alice)
    const bobOnDoomed = await Client.connect(doomed, bob)
    await Client.connect(doomed, carol)
    watcher.send({ type: 'watch', users: ['bob', 'carol'] })
    t.match([await watcher.next('presence'), await watcher.next('presence')], [{ userId: 'bob', online: true }, { userId: 'carol', online: true }])

    for (let i = 1; i <= 50; i++) watcher.send({ type: 'send', to: 'bob', content: `m${i}` })
    const before = await messages(bobOnDoomed, 20)
    const exited = exitOf(child)
    child.kill('SIGKILL')
    await exited
    const killedAt = Date.now()
    await bobOnDoomed.closed
    const had = [...before, ...bobOnDoomed.unread().filter((f) => f.type === 'message').map((f) => f.seq)]
    t.same(had, dense(had.length), 'what bob had before the kill was dense')

    // bob's client reconnects to another instance and resumes from the last seq it has.
    for (let i = 51; i <= 60; i++) watcher.send({ type: 'send', to: 'bob', content: `m${i}` })
    const bobOnTwo = await Client.connect(two, bob, { after: had.length })
    const rest = await messages(bobOnTwo, 60 - had.length)
    t.same([...had, ...rest], dense(60), 'no loss, no duplicate across the kill')

    const frames: any[] = []
    while (frames.length === 0 || frames.at(-1).userId !== 'carol') {
      const frame = await watcher.next(undefined, lease + 5000)
      if (frame.type === 'presence') frames.push(frame)
    }
    const offlineAfter = Date.now() - killedAt
    t.same(frames.map((f) => [f.userId, f.online]), [['carol', false]], 'carol offline; bob, back on another instance in time, never flapped')
    t.ok(offlineAfter <= lease + 1500, `offline within the lease (+ sweep): ${offlineAfter} ms`)
    const lastSeen = Date.parse(frames[0].lastSeen)
    t.ok(lastSeen <= killedAt && lastSeen >= killedAt - lease, 'lastSeen is when the dead instance last vouched for carol')
    t.match(await api(two, 'GET', '/v1/presence/carol', { token: alice }), { body: { online: false, lastSeen: frames[0].lastSeen } })
    t.match(await api(two, 'GET', '/v1/presence/bob', { token: alice }), { body: { online: true, connections: 1 } })
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

    // Presence lives in Redis: not knowing is said as such, not as "offline".
    t.match(await api(server, 'GET', '/v1/presence/alice', { token: alice }), { status: 503, body: { error: { code: 'presence_unavailable' } } })
    b.send({ type: 'watch', users: ['alice'] })
    t.match(await b.next(), { type: 'error', code: 'presence_unavailable' })
  })
}
