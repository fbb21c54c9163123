import t from 'tap'
import { api, Client, eventually, startServer, users } from './helpers.js'
import { freePort, postgresUrl, schemaForTest } from './services.js'

const TOKEN = 'metrics-token-0123456789'

async function scrape (url: string, token = TOKEN): Promise<{ status: number, type: string | null, text: string }> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
}

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample (text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('without DUOLOG_METRICS_TOKEN there is no /metrics', async (t) => {
  const server = await startServer(t)
  const res = await api(server, 'GET', '/metrics')
  t.equal(res.status, 404)
  t.equal(res.body.error.code, 'not_found')
})

t.test('/metrics needs the metrics token, and nothing else opens it', async (t) => {
  const server = await startServer(t, { DUOLOG_METRICS_TOKEN: TOKEN })
  const [alice] = await users(server, 'alice') as [string]
  t.equal((await api(server, 'GET', '/metrics')).status, 401, 'no token')
  t.equal((await scrape(server.url, TOKEN + 'x')).status, 401, 'a wrong token')
  const asUser = await api(server, 'GET', '/metrics', { token: alice })
  t.equal(asUser.status, 401, 'a user\'s access token is not the metrics token')
  t.equal(asUser.body.error.code, 'unauthorized')
})

t.test('what an operator reads: connections, messages, latencies, limits, the event loop, the process', async (t) => {
  const server = await startServer(t, { DUOLOG_METRICS_TOKEN: TOKEN, DUOLOG_SEND_RATE: '1', DUOLOG_SEND_BURST: '3' })
  const [alice, bob] = await users(server, 'alice', 'bob') as [string, string]
  const a = await Client.connect(server, alice)
  const b1 = await Client.connect(server, bob)
  const b2 = await Client.connect(server, bob)
  const before = await scrape(server.url)
  t.equal(before.status, 200)
  t.match(before.type, /^text\/plain; version=0\.0\.4/)
  t.equal(sample(before.text, 'duolog_connections'), 3)
  t.equal(sample(before.text, 'duolog_users_online'), 2)
  t.equal(sample(before.text, 'duolog_messages_stored_total'), 0)

  for (let i = 1; i <= 4; i++) a.send({ type: 'send', to: 'bob', content: `m${i}`, clientMsgId: `c${i}` })
  // The refusal is immediate; the three sents come after their commit.
  await eventually(() => a.frames.filter((f) => f.type === 'sent' || f.type === 'error').length === 4)
  t.same(a.frames.filter((f) => f.type === 'error').map((f) => f.code), ['rate_limited'], 'the fourth send is over the burst')
  await b1.next('message'); await b1.next('message'); await b1.next('message')
  await b2.next('message'); await b2.next('message'); await b2.next('message')

  const after = (await scrape(server.url)).text
  t.equal(sample(after, 'duolog_messages_stored_total'), 3)
  t.equal(sample(after, 'duolog_messages_delivered_total'), 6, 'three messages to each of bob\'s two devices (alice\'s own are `sent`)')
  t.equal(sample(after, 'duolog_send_to_store_seconds_count'), 3)
  t.ok((sample(after, 'duolog_store_commit_seconds_count') ?? 0) >= 1)
  t.equal(sample(after, 'duolog_store_batch_messages_sum'), 3)
  t.equal(sample(after, 'duolog_rate_limited_total{limit="send"}'), 1)
  // The embedded store's work beside the sends: three messages wait for its next index run (every 5 s).
  t.equal(sample(after, 'duolog_sqlite_unindexed_messages'), 3, 'stored, not indexed yet')
  t.match(after, /^duolog_sqlite_index_slice_seconds_count \d/m, 'index slices')
  t.match(after, /^duolog_sqlite_write_hold_seconds_count \d/m, 'writes held for a WAL restart')
  t.match(after, /^duolog_sqlite_checkpoint_pages_total \d/m, 'checkpoints')
  t.match(after, /^nodejs_eventloop_lag_p99_seconds \d/m, 'event-loop delay')
  t.match(after, /^process_cpu_seconds_total \d/m)
  t.match(after, /^process_resident_memory_bytes \d/m)

  b2.close()
  await eventually(async () => sample((await scrape(server.url)).text, 'duolog_connections') === 2)
  a.close(); b1.close()
})

t.test('bus failures are counted (Redis not answering)', async (t) => {
  const deadRedis = `redis://127.0.0.1:${await freePort()}`
  const server = await startServer(t, { DUOLOG_METRICS_TOKEN: TOKEN, DUOLOG_REDIS_URL: deadRedis })
  const [alice] = await users(server, 'alice', 'bob') as [string, string]
  const sent = await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'stored all the same' } })
  t.equal(sent.status, 201, 'the store takes the message though the bus is down')
  const text = (await scrape(server.url)).text
  t.ok((sample(text, 'duolog_bus_errors_total{operation="connection"}') ?? 0) > 0, 'connection errors')
  t.ok((sample(text, 'duolog_bus_errors_total{operation="publish"}') ?? 0) > 0, 'the fan-out publish that failed')
})

const pgUrl = postgresUrl()
if (pgUrl !== undefined) {
  t.test('an instance on PostgreSQL reports no embedded-store metrics', async (t) => {
    const server = await startServer(t, { DUOLOG_METRICS_TOKEN: TOKEN, DUOLOG_DATABASE_URL: pgUrl, DUOLOG_DATABASE_SCHEMA: schemaForTest(t, pgUrl) })
    const text = (await scrape(server.url)).text
    t.match(text, /^duolog_store_commit_seconds_count \d/m, 'the store metrics every instance has')
    t.notMatch(text, /duolog_sqlite_/, 'no duolog_sqlite_* series')
  })
}
