import t from 'tap'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { PostgresStore } from '../../src/store/postgres.js'
import { postgresMigrations } from '../../src/store/migrations/postgres.js'
import { silentLog } from '../../src/log.js'
import { storeContract, type StoreOptions } from './contract.js'
import { postgresUrl } from '../services.js'

const url = postgresUrl()
if (url !== undefined) {
  // A schema per store: tests never see each other's rows, and all are dropped at the end.
  const schemas: string[] = []
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await client.end()
  })
  const open = async (options: StoreOptions = {}): Promise<PostgresStore> => {
    const schema = `duolog_test_${randomBytes(6).toString('hex')}`
    schemas.push(schema)
    return await PostgresStore.open({ url, schema, poolSize: 4, log: silentLog, ...options })
  }

  storeContract(t, open)

  t.test('seqs stay dense with concurrent writers on separate pools (as on separate instances)', async (t) => {
    const schema = `duolog_test_${randomBytes(6).toString('hex')}`
    schemas.push(schema)
    const instances = await Promise.all([1, 2, 3].map(async () => await PostgresStore.open({ url, schema, poolSize: 4, log: silentLog })))
    t.teardown(() => Promise.all(instances.map((s) => s.close())))
    const [first] = instances as [PostgresStore]
    for (const id of ['hub', 'a', 'b', 'c']) await first.createUser({ id, displayName: id, passwordHash: null, createdAt: 1 })
    // Three instances write to the same user at once, in batches that also lock other users.
    await Promise.all(instances.map(async (store, i) => {
      for (let k = 0; k < 20; k++) {
        const from = ['a', 'b', 'c'][i] as string
        await store.appendMessages([
          { from, to: 'hub', content: `${from}${k}`, clientMsgId: null, createdAt: 1 },
          { from: 'hub', to: from, content: `re ${from}${k}`, clientMsgId: null, createdAt: 1 }
        ])
      }
    }))
    const stream = await first.readStream('hub', 0, 1000)
    t.same(stream.map((e) => e.seq), Array.from({ length: 120 }, (_, i) => i + 1), 'hub: 1..120, no gap')
    t.same(stream.map((e) => e.message.from === 'hub' ? e.message.senderSeq : e.message.recipientSeq), stream.map((e) => e.seq), 'each entry at its message\'s seq')
    for (const id of ['a', 'b', 'c']) {
      const own = await first.readStream(id, 0, 100)
      t.same(own.map((e) => e.seq), Array.from({ length: 40 }, (_, i) => i + 1), `${id}: 1..40`)
    }
    t.same(await first.streamState('hub'), { lastSeq: 120, ackedSeq: 0 })
  })

  t.test('a batch PostgreSQL aborts to break a deadlock is made again: its sends are stored, not refused', async (t) => {
    const store = await open()
    t.teardown(() => store.close())
    for (const id of ['a', 'b']) await store.createUser({ id, displayName: id, passwordHash: null, createdAt: 1 })
    // Another transaction (a webhook sender, say) holds bob's row and then wants alice's,
    // while the batch holds alice's and waits for bob's: a deadlock, and the batch, which
    // waited first, is the one PostgreSQL aborts.
    const other = new pg.Client({ connectionString: url, options: `-c search_path=${schemas[schemas.length - 1] as string}` })
    await other.connect()
    t.teardown(() => other.end())
    await other.query('BEGIN')
    await other.query('SELECT 1 FROM users WHERE id = \'b\' FOR UPDATE')
    const appended = store.appendMessages([{ from: 'a', to: 'b', content: 'through a deadlock', clientMsgId: null, createdAt: 1 }])
    await new Promise((resolve) => setTimeout(resolve, 200))
    const crossing = other.query('SELECT 1 FROM users WHERE id = \'a\' FOR UPDATE').then(async () => await other.query('COMMIT'))
    const [outcome] = await appended
    await crossing
    t.match(outcome, { status: 'stored', message: { content: 'through a deadlock', senderSeq: 1, recipientSeq: 1 } })
    t.same((await store.readStream('b', 0, 10)).map((e) => e.message.content), ['through a deadlock'], 'stored once')
  })

  t.test('the same retry sent through two instances at once is stored once; the other gets the duplicate', async (t) => {
    const schema = `duolog_test_${randomBytes(6).toString('hex')}`
    schemas.push(schema)
    const instances = await Promise.all([1, 2].map(async () => await PostgresStore.open({ url, schema, poolSize: 4, log: silentLog })))
    t.teardown(() => Promise.all(instances.map((s) => s.close())))
    const [first] = instances as [PostgresStore]
    for (const id of ['alice', 'bob']) await first.createUser({ id, displayName: id, passwordHash: null, createdAt: 1 })
    // Each round: both instances look the key up before either has locked the users, and
    // one of them finds it taken only when it inserts.
    for (let k = 0; k < 30; k++) {
      const outcomes = await Promise.all(instances.map(async (store) => await store.appendMessages([{ from: 'alice', to: 'bob', content: `m${k}`, clientMsgId: `k${k}`, createdAt: 1 }])))
      t.same(outcomes.map(([o]) => o?.status).sort(), ['duplicate', 'stored'], `round ${k}: one stored, one duplicate`)
    }
    const stream = await first.readStream('bob', 0, 100)
    t.same(stream.map((e) => e.message.content), Array.from({ length: 30 }, (_, k) => `m${k}`), 'each once, in order')
  })

  t.test('migrations run once when instances start together', async (t) => {
    const schema = `duolog_test_${randomBytes(6).toString('hex')}`
    schemas.push(schema)
    const stores = await Promise.all([1, 2, 3].map(async () => await PostgresStore.open({ url, schema, log: silentLog })))
    t.teardown(() => Promise.all(stores.map((s) => s.close())))
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    const { rows } = await client.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)
    await client.end()
    t.same(rows.map((r) => r.version), postgresMigrations.map((_, i) => i + 1), 'each migration once')
  })
}
