import t, { type Test } from 'tap'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { Webhook } from 'standardwebhooks'
import { Client, api, eventually, serviceToken, sleep, startServer, testEnv, users, type TestServer } from './helpers.js'
import { exitOf, listening, spawnServer } from './process.js'
import { freePort, postgresUrl, schemaForTest } from './services.js'
import type { Env } from '../src/config.js'

const SECRET = 'whsec_' + Buffer.from('a webhook secret of some length').toString('base64')

interface Received {
  id: string
  timestamp: string
  type: string
  body: any
  /** The receiver's answer to this attempt. */
  answered: number | 'hung'
}

/**
 * A real HTTP server that receives webhooks and checks every signature with the Standard
 * Webhooks library; `answer` decides each reply (a status, or 'hang' to never answer).
 */
async function receiver (t: Test, answer: (r: Omit<Received, 'answered'>, nth: number) => number | 'hang' = () => 200):
Promise<{ url: string, all: Received[], ok: () => Received[], badSignatures: () => number, close: () => Promise<void> }> {
  const verifier = new Webhook(SECRET)
  const all: Received[] = []
  let bad = 0
  const hung: ServerResponse[] = []
  const server = createServer((req, res) => {
    let raw = ''
    req.on('data', (chunk: Buffer) => { raw += chunk.toString() })
    req.on('end', () => {
      const headers = req.headers as IncomingHttpHeaders & Record<string, string>
      try {
        verifier.verify(raw, headers)
      } catch {
        bad++
        res.statusCode = 401
        res.end()
        return
      }
      const received = { id: String(headers['webhook-id']), timestamp: String(headers['webhook-timestamp']), type: JSON.parse(raw).type, body: JSON.parse(raw) }
      const reply = answer(received, all.length)
      all.push({ ...received, answered: reply === 'hang' ? 'hung' : reply })
      if (reply === 'hang') { hung.push(res); return }
      res.statusCode = reply
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => {
    for (const res of hung) res.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => { resolve() }))
  }
  t.teardown(close)
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}/hooks`, all, ok: () => all.filter((r) => r.answered === 200), badSignatures: () => bad, close }
}

const hooksEnv = (url: string, extra: Env = {}): Env => ({ DUOLOG_WEBHOOK_URL: url, DUOLOG_WEBHOOK_SECRET: SECRET, ...extra })

async function send (server: TestServer | string, token: string, to: string, content: string): Promise<any> {
  const res = await api(server, 'POST', '/v1/messages', { token, body: { to, content } })
  if (res.status !== 201) throw new Error(JSON.stringify(res.body))
  return res.body
}

t.test('message.created and message.read arrive signed per Standard Webhooks, with the message and both users', async (t) => {
  const hooks = await receiver(t)
  const server = await startServer(t, hooksEnv(hooks.url, { DUOLOG_WEBHOOK_EVENTS: 'message.created,message.read' }))
  const [alice, bob] = await users(server, 'alice', 'bob') as [string, string]
  const sent = await send(server, alice, 'bob', 'hello webhook')
  await eventually(() => hooks.ok().length === 1)
  const [created] = hooks.ok()
  t.match(created?.body, {
    type: 'message.created',
    timestamp: /^\d{4}-\d\d-\d\dT/,
    data: { id: sent.id, from: 'alice', to: 'bob', content: 'hello webhook', senderSeq: 1, recipientSeq: 1, createdAt: sent.createdAt }
  })
  t.match(created?.id, /^evt_[0-9a-f]{32}$/)
  t.ok(Math.abs(Number(created?.timestamp) - Date.now() / 1000) < 10, 'webhook-timestamp is the time of the attempt, in seconds')

  t.equal((await api(server, 'POST', '/v1/conversations/alice/read', { token: bob, body: { upTo: sent.id } })).status, 200)
  await eventually(() => hooks.ok().length === 2)
  t.match(hooks.ok()[1]?.body, { type: 'message.read', data: { userId: 'bob', peer: 'alice', readUpTo: sent.id } })
  t.equal(hooks.badSignatures(), 0, 'every request verified')
  await sleep(300)
  t.equal(hooks.all.length, 2, 'each event once')
})

t.test('a receiver answering 500 gets the event again, with the same webhook-id; the deliveries API shows the failure and retries on demand', async (t) => {
  let failing = true
  const hooks = await receiver(t, () => failing ? 500 : 200)
  const server = await startServer(t, hooksEnv(hooks.url))
  const [alice] = await users(server, 'alice', 'bob') as [string, string]
  const service = await serviceToken(server)
  await send(server, alice, 'bob', 'one')
  await eventually(() => hooks.all.length === 1)
  const first = hooks.all[0] as Received

  // Recorded a moment after the answer (attempts that end together are recorded in one commit).
  const listed = async (status: string): Promise<any[]> => (await api(server, 'GET', `/v1/webhooks/deliveries?status=${status}`, { token: service })).body.deliveries
  await eventually(async () => (await listed('failed')).length === 1)
  const failed = await api(server, 'GET', '/v1/webhooks/deliveries?status=failed', { token: service })
  t.equal(failed.status, 200)
  t.match(failed.body.deliveries, [{ id: first.id, type: 'message.created', status: 'failed', attempts: 1, lastStatus: 500, lastError: 'the receiver answered 500', nextAttemptAt: /^\d{4}-/ }])
  t.match(await api(server, 'GET', '/v1/webhooks/deliveries', { token: alice }), { status: 403 }, 'services only')

  // The automatic retry comes about 5 s later, with the same id.
  failing = false
  await eventually(() => hooks.ok().length === 1, 10_000)
  t.equal(hooks.ok()[0]?.id, first.id, 'the same webhook-id')
  t.same(hooks.ok()[0]?.body, first.body, 'the same body')
  await eventually(async () => (await listed('delivered')).length === 1)
  t.match(await listed('delivered'), [{ id: first.id, status: 'delivered', attempts: 2, lastStatus: 200, nextAttemptAt: null }])
  t.match(await api(server, 'POST', `/v1/webhooks/deliveries/${first.id}/retry`, { token: service }), { status: 409, body: { error: { code: 'already_delivered' } } })
  t.match(await api(server, 'POST', '/v1/webhooks/deliveries/evt_00000000000000000000000000000000/retry', { token: service }), { status: 404, body: { error: { code: 'not_found' } } })

  // A retry on demand does not wait for the backoff.
  failing = true
  await send(server, alice, 'bob', 'two')
  await eventually(() => hooks.all.length === 3)
  const second = hooks.all[2] as Received
  failing = false
  t.match(await api(server, 'POST', `/v1/webhooks/deliveries/${second.id}/retry`, { token: service }), { status: 202, body: { id: second.id, status: 'scheduled' } })
  await eventually(() => hooks.ok().length === 2, 2000)
  t.equal(hooks.ok()[1]?.id, second.id)
})

t.test('message.undelivered: exactly one for a message no device acknowledged in time, none for one acknowledged', async (t) => {
  const hooks = await receiver(t)
  const server = await startServer(t, hooksEnv(hooks.url, { DUOLOG_WEBHOOK_EVENTS: 'message.undelivered', DUOLOG_WEBHOOK_UNDELIVERED_MS: '400' }))
  const [alice, bob] = await users(server, 'alice', 'bob', 'carol') as [string, string, string]
  const phone = await Client.connect(server, bob)
  const acked = await send(server, alice, 'bob', 'bob is online and acks')
  t.match(await phone.next('message'), { id: acked.id })
  phone.send({ type: 'ack', upTo: 1 })
  const seenNotAcked = await send(server, alice, 'bob', 'bob gets it but never acks')
  t.match(await phone.next('message'), { id: seenNotAcked.id })
  const offline = await send(server, alice, 'carol', 'carol is offline')
  await sleep(1500)
  const undelivered = hooks.ok().map((r) => r.body)
  t.same(undelivered.map((b) => [b.type, b.data.id]).sort(), [['message.undelivered', seenNotAcked.id], ['message.undelivered', offline.id]].sort())
  t.match(undelivered.find((b) => b.data.id === offline.id), { data: { from: 'alice', to: 'carol', content: 'carol is offline', recipientSeq: 1 } })
  const skipped = await api(server, 'GET', '/v1/webhooks/deliveries?status=skipped', { token: await serviceToken(server) })
  t.equal(skipped.body.deliveries.length, 1, 'the acknowledged one was skipped, not sent')
  await sleep(500)
  t.equal(hooks.all.length, 2, 'nothing more, ever: once per message')
})

t.test('per-user order: an event waits while an earlier event of one of its users is unfinished', async (t) => {
  let failFirst = true
  const hooks = await receiver(t, (r) => {
    if (failFirst && r.body.data.content === 'a1') return 500
    return 200
  })
  const server = await startServer(t, hooksEnv(hooks.url, { DUOLOG_WEBHOOK_EVENTS: 'message.created' }))
  const [alice, , carol] = await users(server, 'alice', 'bob', 'carol', 'dave') as [string, string, string, string]
  await send(server, alice, 'bob', 'a1')
  await eventually(() => hooks.all.length === 1)
  await send(server, alice, 'bob', 'a2')
  await send(server, carol, 'alice', 'c-to-alice') // shares alice: waits too
  await send(server, carol, 'dave', 'c-to-dave') // shares carol, who waits behind alice: waits too
  await sleep(500)
  t.same(hooks.all.map((r) => r.body.data.content), ['a1'], 'nothing overtook the failing event of alice')
  failFirst = false
  const [first] = hooks.all
  await api(server, 'POST', `/v1/webhooks/deliveries/${first?.id ?? ''}/retry`, { token: await serviceToken(server) })
  await eventually(() => hooks.ok().length === 4)
  t.same(hooks.ok().map((r) => r.body.data.content), ['a1', 'a2', 'c-to-alice', 'c-to-dave'])
})

t.test('events of unrelated users do not wait for each other', async (t) => {
  const hooks = await receiver(t, (r) => r.body.data.from === 'alice' ? 'hang' : 200)
  const server = await startServer(t, hooksEnv(hooks.url, { DUOLOG_WEBHOOK_EVENTS: 'message.created' }))
  const [alice, , carol] = await users(server, 'alice', 'bob', 'carol', 'dave') as [string, string, string, string]
  await send(server, alice, 'bob', 'hangs')
  for (let i = 0; i < 5; i++) await send(server, carol, 'dave', `c${i}`)
  await eventually(() => hooks.ok().length === 5)
  t.same(hooks.ok().map((r) => r.body.data.content), ['c0', 'c1', 'c2', 'c3', 'c4'])
})

t.test('a receiver that hangs or fails changes nothing for users: sends are acknowledged and delivered', async (t) => {
  const hooks = await receiver(t, () => 'hang')
  const server = await startServer(t, hooksEnv(hooks.url))
  const [alice, bob] = await users(server, 'alice', 'bob') as [string, string]
  const a = await Client.connect(server, alice)
  const b = await Client.connect(server, bob)
  for (let i = 1; i <= 200; i++) a.send({ type: 'send', to: 'bob', content: `m${i}` })
  for (let i = 1; i <= 200; i++) t.equal((await a.next('sent')).seq, i)
  for (let i = 1; i <= 200; i++) t.equal((await b.next('message')).content, `m${i}`)
  await eventually(() => hooks.all.length >= 1)
  t.ok(hooks.all.length <= 2, 'only the first event of the pair is in flight (the rest keep their order behind it)')
})

t.test('kill -9 with events pending, restart: every event arrives', async (t) => {
  let up = false
  const hooks = await receiver(t, () => up ? 200 : 503)
  const dataDir = testEnv().DUOLOG_DATA_DIR as string
  const port = await freePort()
  const env = { ...testEnv({ DUOLOG_DATA_DIR: dataDir, PORT: String(port), DUOLOG_LOG_LEVEL: 'info' }), ...hooksEnv(hooks.url, { DUOLOG_WEBHOOK_EVENTS: 'message.created' }) }
  let child = spawnServer(env)
  t.teardown(() => { child.kill('SIGKILL') })
  const base = await listening(child)
  const [alice, bob] = await users(base, 'alice', 'bob', 'carol', 'dave') as [string, string, string, string]
  const ids: number[] = []
  for (let i = 0; i < 20; i++) {
    ids.push((await send(base, i % 2 === 0 ? alice : bob, i % 2 === 0 ? 'carol' : 'dave', `m${i}`)).id)
  }
  await eventually(() => hooks.all.length >= 2) // failing: each user's first event was tried
  const exited = exitOf(child)
  child.kill('SIGKILL')
  await exited
  up = true
  child = spawnServer(env)
  await listening(child)
  await eventually(() => new Set(hooks.ok().map((r) => r.body.data.id)).size === 20, 20_000)
  t.same([...new Set(hooks.ok().map((r) => r.body.data.id))].sort((x, y) => x - y), ids, 'all 20, after the restart')
  t.same(hooks.ok().filter((r) => r.body.data.from === 'alice').map((r) => r.body.data.content), ['m0', 'm2', 'm4', 'm6', 'm8', 'm10', 'm12', 'm14', 'm16', 'm18'], 'in order')
  t.equal(hooks.badSignatures(), 0)
})

const databaseUrl = postgresUrl()
if (databaseUrl !== undefined) {
  t.test('PostgreSQL: two instances deliver each event once, in per-user order', async (t) => {
    const hooks = await receiver(t)
    const schema = schemaForTest(t, databaseUrl)
    const env = { DUOLOG_DATABASE_URL: databaseUrl, DUOLOG_DATABASE_SCHEMA: schema, ...hooksEnv(hooks.url) }
    const one = await startServer(t, env)
    const two = await startServer(t, env)
    const ids = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5']
    const tokens = await users(one, ...ids)
    const sent: number[] = []
    await Promise.all([one, two].map(async (server, s) => {
      for (let i = 0; i < 40; i++) {
        const from = (i + s) % 6
        sent.push((await send(server, tokens[from] as string, ids[(from + 1 + (i % 5)) % 6] as string, `s${s}-${i}`)).id)
      }
    }))
    await eventually(() => hooks.ok().length >= 80, 20_000)
    await sleep(1000)
    const created = hooks.ok().filter((r) => r.type === 'message.created')
    t.equal(created.length, 80, 'no event twice')
    t.equal(new Set(hooks.all.map((r) => r.id)).size, hooks.all.length, 'no webhook-id twice')
    t.same(created.map((r) => r.body.data.id).sort((a, b) => a - b), sent.sort((a, b) => a - b), 'every event once')
    for (const user of ids) {
      const seqs = created.flatMap((r) => r.body.data.from === user ? [r.body.data.senderSeq] : r.body.data.to === user ? [r.body.data.recipientSeq] : [])
      t.same(seqs, [...seqs].sort((a, b) => a - b), `${user}'s events in their order`)
    }
  })
}

t.test('message.edited and message.deleted, in order; a deletion erases the content of events still waiting to be sent', async (t) => {
  let up = false
  const hooks = await receiver(t, () => up ? 200 : 500)
  const server = await startServer(t, hooksEnv(hooks.url, { DUOLOG_WEBHOOK_EVENTS: 'message.created,message.edited,message.deleted' }))
  const [alice] = await users(server, 'alice', 'bob') as [string, string]
  const kept = await send(server, alice, 'bob', 'kept')
  await eventually(() => hooks.all.length === 1) // failed: every later event of alice and bob waits
  t.equal((await api(server, 'PATCH', `/v1/messages/${kept.id}`, { token: alice, body: { content: 'kept, edited' } })).status, 200)
  const secret = await send(server, alice, 'bob', 'a secret')
  t.equal((await api(server, 'PATCH', `/v1/messages/${secret.id}`, { token: alice, body: { content: 'a bigger secret' } })).status, 200)
  t.equal((await api(server, 'DELETE', `/v1/messages/${secret.id}`, { token: alice })).status, 204)
  up = true
  await api(server, 'POST', `/v1/webhooks/deliveries/${hooks.all[0]?.id ?? ''}/retry`, { token: await serviceToken(server) })
  await eventually(() => hooks.ok().length === 5)
  t.same(hooks.ok().map((r) => [r.type, r.body.data.id, r.body.data.content]), [
    ['message.created', kept.id, 'kept'],
    ['message.edited', kept.id, 'kept, edited'],
    ['message.created', secret.id, ''],
    ['message.edited', secret.id, ''],
    ['message.deleted', secret.id, '']
  ], 'in order; nothing of the deleted message\'s content was ever sent')
  t.match(hooks.ok()[1]?.body.data, { editedAt: /^\d{4}-/ })
  t.match(hooks.ok()[4]?.body.data, { deletedAt: /^\d{4}-/ })
  t.notOk(JSON.stringify(hooks.all).includes('secret'))
})

t.test('user.deleted, after the user\'s earlier events', async (t) => {
  const hooks = await receiver(t)
  const server = await startServer(t, hooksEnv(hooks.url, { DUOLOG_WEBHOOK_EVENTS: 'message.created,user.deleted' }))
  const [alice] = await users(server, 'alice', 'bob') as [string, string]
  await send(server, alice, 'bob', 'last words')
  t.equal((await api(server, 'DELETE', '/v1/users/alice', { token: await serviceToken(server) })).status, 204)
  await eventually(() => hooks.ok().length === 2)
  t.same(hooks.ok().map((r) => r.type), ['message.created', 'user.deleted'])
  t.match(hooks.ok()[1]?.body, { type: 'user.deleted', data: { id: 'alice', deletedAt: /^\d{4}-/ } })
})
