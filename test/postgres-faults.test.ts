import t from 'tap'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { JWT_SECRET, api, sleep, users } from './helpers.js'
import { exitOf, listening, spawnServer } from './process.js'
import { postgresUrl, schemaForTest } from './services.js'

// A lost PostgreSQL connection (a failover, a proxy cutting connections, pg_terminate_backend)
// must fail only what was using it, with a retryable error, and never the process. Only the
// backends of the duolog started here are terminated (by their application_name).

const url = postgresUrl()
if (url !== undefined) {
  t.test('backends terminated mid-transaction under traffic, 50 times: the process keeps serving and loses nothing acknowledged', async (t) => {
    const schema = schemaForTest(t, url)
    const app = `duolog_fault_${randomBytes(4).toString('hex')}`
    const server = spawnServer({
      PORT: '0',
      DUOLOG_DATABASE_URL: `${url}?application_name=${app}`,
      DUOLOG_DATABASE_SCHEMA: schema,
      DUOLOG_JWT_SECRET: JWT_SECRET,
      DUOLOG_SERVICE_CLIENTS: 'backend:backend-secret-0123456789',
      DUOLOG_AUTH_RATE_LIMIT: '100000',
      DUOLOG_SEND_RATE: '1000000',
      DUOLOG_SEND_BURST: '1000000',
      // Every stream is read back at the end: thousands of messages on a fast machine.
      DUOLOG_READ_RATE: '1000000',
      DUOLOG_READ_BURST: '1000000'
    })
    const exited = exitOf(server)
    t.teardown(() => server.kill('SIGKILL'))
    const base = await listening(server)
    const senders = ['s1', 's2', 's3', 's4', 's5', 's6']
    const [bob, ...tokens] = await users(base, 'bob', ...senders)

    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    t.teardown(() => admin.end())

    const state = { stop: false }
    let terminated = 0
    const acknowledged = new Set<string>()
    const statuses = new Map<number, number>()
    // Each sender sends its messages in order, retrying each with the same clientMsgId until it is stored.
    const sending = tokens.map(async (token, s) => {
      for (let i = 1; !state.stop || i <= 20; i++) {
        const clientMsgId = `${senders[s] as string}-${i}`
        for (let attempt = 0; ; attempt++) {
          const res = await api(base, 'POST', '/v1/messages', { token, body: { to: 'bob', content: clientMsgId, clientMsgId } })
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
          if (res.status === 200 || res.status === 201) break
          if (res.status !== 503 || attempt > 100) throw new Error(`send ${clientMsgId}: ${res.status} ${JSON.stringify(res.body)}`)
          await sleep(10)
        }
        acknowledged.add(clientMsgId)
        if (state.stop && i >= 20) break
      }
    })
    // Read traffic too, so that reads lose their connections as well.
    const reading = (async () => {
      while (!state.stop) {
        const res = await api(base, 'GET', '/v1/conversations', { token: bob })
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        await sleep(5)
      }
    })()
    const deadline = Date.now() + 90_000
    while (terminated < 50 && Date.now() < deadline && server.exitCode === null) {
      const { rows } = await admin.query<{ ok: boolean }>(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE application_name = $1 AND state IN ('active', 'idle in transaction')`, [app])
      terminated += rows.filter((r) => r.ok).length
      await sleep(20)
    }
    const storedDuringFaults = acknowledged.size
    state.stop = true
    await Promise.race([Promise.all([...sending, reading]), exited.then(({ code, stderr }) => { throw new Error(`duolog exited (${code}): ${stderr.slice(-2000)}`) })])
    t.ok(terminated >= 50, `${terminated} backends terminated mid-transaction`)
    t.equal(server.exitCode, null, 'the process is still running')
    t.ok(storedDuringFaults > 0, `sends went on while connections were cut (${storedDuringFaults} stored)`)
    t.same([...statuses.keys()].filter((status) => ![200, 201, 503].includes(status)), [],
      `a lost connection answers 503 (retryable) and nothing else (answers: ${JSON.stringify([...statuses])})`)

    // Everything acknowledged is in bob's stream, once, in each sender's order.
    const stream: string[] = []
    for (let after = 0; ;) {
      const page = await api(base, 'GET', `/v1/sync?after=${after}&limit=500`, { token: bob })
      t.equal(page.status, 200)
      stream.push(...page.body.messages.map((m: { content: string }) => m.content))
      after = page.body.upTo
      if (!page.body.more) break
    }
    t.equal(new Set(stream).size, stream.length, 'no duplicates')
    t.same([...acknowledged].filter((id) => !stream.includes(id)), [], 'every acknowledged message is stored')
    for (const sender of senders) {
      const order = stream.filter((c) => c.startsWith(`${sender}-`)).map((c) => Number(c.split('-')[1]))
      t.same(order, [...order].sort((a, b) => a - b), `${sender}'s messages in the order sent`)
    }
  })
}

if (url !== undefined) {
  t.test('a database that only reads (a standby after a failover): /readyz 503, sends 503 store_unavailable; writable again, all is well', async (t) => {
    const schema = schemaForTest(t, url)
    // The role duolog logs in as is made read-only, then its connections are cut so that new
    // ones start read-only: what a failover to a standby does to a client.
    const role = `duolog_ro_${randomBytes(4).toString('hex')}`
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    await admin.query(`CREATE ROLE ${role} LOGIN SUPERUSER`)
    t.teardown(async () => {
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role])
      await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {})
      await admin.end()
    })
    const roleUrl = new URL(url)
    roleUrl.username = role
    const server = spawnServer({
      PORT: '0',
      DUOLOG_DATABASE_URL: roleUrl.toString(),
      DUOLOG_DATABASE_SCHEMA: schema,
      DUOLOG_JWT_SECRET: JWT_SECRET,
      DUOLOG_SERVICE_CLIENTS: 'backend:backend-secret-0123456789',
      DUOLOG_AUTH_RATE_LIMIT: '100000'
    })
    t.teardown(() => server.kill('SIGKILL'))
    const base = await listening(server)
    const [alice] = await users(base, 'alice', 'bob') as [string, string]
    t.equal((await api(base, 'GET', '/readyz')).status, 200)

    const cut = async (): Promise<void> => { await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]) }
    await admin.query(`ALTER ROLE ${role} SET default_transaction_read_only = on`)
    await cut()
    const notReady = await retryUntil(async () => await api(base, 'GET', '/readyz'), (res) => res.status === 503)
    t.match(notReady, { status: 503, body: { error: { code: 'not_ready' } } }, '/readyz: not ready')
    const send = await retryUntil(async () => await api(base, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'while read-only', clientMsgId: 'ro-1' } }), (res) => res.status !== 503 || res.body.error?.code === 'store_unavailable')
    t.match(send, { status: 503, body: { error: { code: 'store_unavailable' } } }, 'a send is refused as retryable, not 500')
    t.equal(server.exitCode, null, 'the process keeps running')

    await admin.query(`ALTER ROLE ${role} RESET default_transaction_read_only`)
    await cut()
    const ready = await retryUntil(async () => await api(base, 'GET', '/readyz'), (res) => res.status === 200)
    t.equal(ready.status, 200, 'ready again')
    const retried = await retryUntil(async () => await api(base, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'while read-only', clientMsgId: 'ro-1' } }), (res) => res.status === 201)
    t.equal(retried.status, 201, 'the retry with the same clientMsgId is stored')
  })
}

/** Calls `fn` until `done` holds (connections come back one by one); at most 5 s. */
async function retryUntil<T> (fn: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5000
  for (;;) {
    const value = await fn()
    if (done(value) || Date.now() > deadline) return value
    await sleep(50)
  }
}
