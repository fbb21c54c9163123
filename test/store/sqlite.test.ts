import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { join } from 'node:path'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import type { Worker } from 'node:worker_threads'
import type Database from 'better-sqlite3'
import { SqliteStore } from '../../src/store/sqlite.js'
import { storeContract } from './contract.js'
import { sqliteMigrations } from '../../src/store/migrations/sqlite.js'
import { inspectDatabase, tempDir } from '../helpers.js'

// Reads merge the index tables with the messages not yet indexed: run the contract with
// everything indexed at once, with nothing indexed until close, with a mix, and with runs
// written a few rows at a time (reads happen between their slices).
for (const [indexBatch, indexSliceRows] of [[1, 400], [3, 400], [1_000_000, 400], [3, 1], [5, 2]] as const) {
  t.test(`contract, indexing every ${indexBatch} messages, ${indexSliceRows} rows per slice`, async (t) => {
    storeContract(t, async (options) => new SqliteStore({ dataDir: tempDir(), synchronous: 'normal', indexBatch, indexSliceRows, indexDelayMs: 60_000, ...options }))
  })
}

t.test('a SQLite file keeps everything across a reopen, and migrations run once', async (t) => {
  const dataDir = tempDir()
  const first = new SqliteStore({ dataDir, synchronous: 'full' })
  await first.createUser({ id: 'alice', displayName: 'alice', passwordHash: null, createdAt: 1 })
  await first.createUser({ id: 'bob', displayName: 'bob', passwordHash: null, createdAt: 1 })
  await first.appendMessages([{ from: 'alice', to: 'bob', content: 'kept', clientMsgId: 'k', createdAt: 1 }])
  await first.close()
  const second = new SqliteStore({ dataDir, synchronous: 'normal' })
  t.same((await second.readStream('bob', 0, 10)).map((e) => e.message.content), ['kept'])
  t.throws(() => new SqliteStore({ dataDir, synchronous: 'normal' }), /locked/, 'a second process on the same file is refused')
  await second.close()
  const db = inspectDatabase(join(dataDir, 'duolog.db'))
  t.equal(db.prepare('PRAGMA user_version').pluck().get(), sqliteMigrations.length)
  t.equal(db.prepare('PRAGMA journal_mode').pluck().get(), 'wal')
  db.close()
})

t.test('messages stored but not indexed before a crash are indexed on the next start', async (t) => {
  const dataDir = tempDir()
  const crashed = new SqliteStore({ dataDir, synchronous: 'normal', indexBatch: 1_000_000, indexDelayMs: 60_000 })
  await crashed.createUser({ id: 'alice', displayName: 'alice', passwordHash: null, createdAt: 1 })
  await crashed.createUser({ id: 'bob', displayName: 'bob', passwordHash: null, createdAt: 1 })
  await crashed.appendMessages([1, 2, 3].map((i) => ({ from: 'alice', to: 'bob', content: `m${i}`, clientMsgId: `k${i}`, createdAt: i })))
  // What a kill -9 leaves: the log committed, the index not written. Closing the file
  // without the store's close() skips its index flush.
  const files = crashed as unknown as { db: Database.Database, lock: Database.Database }
  await crashed.checkpointer?.close()
  files.db.close()
  files.lock.close()
  const raw = inspectDatabase(join(dataDir, 'duolog.db'))
  t.equal(raw.prepare('SELECT count(*) FROM stream').pluck().get(), 0, 'nothing indexed yet')
  raw.close()

  const restarted = new SqliteStore({ dataDir, synchronous: 'normal' })
  t.teardown(() => restarted.close())
  t.same((await restarted.readStream('bob', 0, 10)).map((e) => e.message.content), ['m1', 'm2', 'm3'])
  t.same(await restarted.streamState('alice'), { lastSeq: 3, ackedSeq: 0 })
  const [retry] = await restarted.appendMessages([{ from: 'alice', to: 'bob', content: 'm2', clientMsgId: 'k2', createdAt: 9 }])
  t.equal(retry?.status, 'duplicate', 'clientMsgIds are indexed too')
  t.same((await restarted.conversation('bob', 'alice', { limit: 2 })).map((m) => m.content), ['m3', 'm2'])
})

t.test('messages waiting to be indexed do not hold their content in memory', async (t) => {
  // A run indexes up to 50,000 messages: were they kept whole in memory until then, 4,000
  // characters each would be 400 MB. 10,000 messages of 4 KB here: 40 MB if kept.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const store = new SqliteStore({ dataDir: tempDir(), synchronous: 'normal', indexBatch: 1_000_000, indexDelayMs: 60_000 })
  t.teardown(() => store.close())
  await store.createUser({ id: 'alice', displayName: 'alice', passwordHash: null, createdAt: 1 })
  await store.createUser({ id: 'bob', displayName: 'bob', passwordHash: null, createdAt: 1 })
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < 100; i++) {
    await store.appendMessages(Array.from({ length: 100 }, (_, j) => ({ from: 'alice', to: 'bob', content: randomBytes(2000).toString('hex'), clientMsgId: `k${i}-${j}`, createdAt: i })))
  }
  gc()
  const grown = process.memoryUsage().heapUsed - before
  t.ok(grown < 10_000_000, `the heap grew by ${Math.round(grown / 1e6)} MB for 40 MB of unindexed content`)
  // The content is read from the log: nothing of it is lost for being out of memory.
  const entries = await store.readStream('bob', 9_998, 10)
  t.same(entries.map((e) => [e.seq, e.message.content.length, e.message.clientMsgId]), [[9_999, 4000, 'k99-98'], [10_000, 4000, 'k99-99']])
  const [retry] = await store.appendMessages([{ from: 'alice', to: 'bob', content: entries[1]?.message.content ?? '', clientMsgId: 'k99-99', createdAt: 9 }])
  t.equal(retry?.status, 'duplicate', 'a retry of an unindexed message is still recognized')
  t.equal((await store.conversation('bob', 'alice', { limit: 1 }))[0]?.content, entries[1]?.message.content)
})

t.test('the read queries use the index tables, not scans', async (t) => {
  const dataDir = tempDir()
  await new SqliteStore({ dataDir, synchronous: 'normal' }).close()
  const db = inspectDatabase(join(dataDir, 'duolog.db'))
  t.teardown(() => db.close())
  const plan = (sql: string): string => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ')
  t.notMatch(plan('SELECT coalesce(max(seq), 0) FROM stream WHERE user_id = \'a\''), /SCAN/)
  t.notMatch(plan('SELECT * FROM stream s JOIN messages m ON m.id = s.message_id WHERE s.user_id = \'a\' AND s.seq > 5 ORDER BY s.seq LIMIT 10'), /SCAN|TEMP B-TREE/)
  t.notMatch(plan('SELECT * FROM conversation_index c JOIN messages m ON m.id = c.message_id WHERE c.user_lo = \'a\' AND c.user_hi = \'b\' AND c.message_id < 10 AND c.message_id > 0 ORDER BY c.message_id DESC LIMIT 5'), /SCAN|TEMP B-TREE/)
  t.notMatch(plan('SELECT * FROM idempotency i JOIN messages m ON m.id = i.message_id WHERE i.sender = \'a\' AND i.client_msg_id = \'k\''), /SCAN/)
  t.notMatch(plan('SELECT * FROM messages m WHERE m.id > 5 ORDER BY m.id'), /TEMP B-TREE/)
  // The conversation list and unread counts: a counter row per user and peer, read in index order.
  t.notMatch(plan(`SELECT c.peer, c.received - c.read, p.read_up_to FROM conversations c LEFT JOIN conversations p ON p.user_id = c.peer AND p.peer = c.user_id
    WHERE c.user_id = 'a' AND c.last_message_id < 100 AND c.last_message_id > 0 ORDER BY c.last_message_id DESC LIMIT 50`), /SCAN|TEMP B-TREE/)
  // Moving a read marker counts only the messages it passes over, through the conversation index.
  t.match(plan(`SELECT count(*) FROM conversation_index c JOIN messages m ON m.id = c.message_id
    WHERE c.user_lo = 'a' AND c.user_hi = 'b' AND c.message_id > 5 AND c.message_id <= 10 AND m.sender = 'b'`), /SEARCH c USING PRIMARY KEY/)
})

t.test('checkpoints run in a worker: the writer never checkpoints, and the database file gets the pages while the store is open', async (t) => {
  const dataDir = tempDir()
  const store = new SqliteStore({ dataDir, synchronous: 'normal', checkpointPages: 100 })
  t.teardown(() => store.close())
  const writer = (store as unknown as { db: Database.Database }).db
  t.equal(writer.prepare('PRAGMA wal_autocheckpoint').pluck().get(), 0, 'the writer\'s automatic checkpoints are off')
  await store.createUser({ id: 'alice', displayName: 'alice', passwordHash: null, createdAt: 1 })
  await store.createUser({ id: 'bob', displayName: 'bob', passwordHash: null, createdAt: 1 })
  for (let i = 0; i < 20; i++) {
    await store.appendMessages(Array.from({ length: 100 }, (_, k) => ({ from: 'alice', to: 'bob', content: 'x'.repeat(500), clientMsgId: `${i}-${k}`, createdAt: 1 })))
  }
  const started = Date.now()
  while ((store.checkpointer?.pages ?? 0) === 0 && Date.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 10))
  t.ok((store.checkpointer?.pages ?? 0) > 0, `the worker copied ${store.checkpointer?.pages ?? 0} pages`)
  t.ok(statSync(join(dataDir, 'duolog.db')).size > 1_000_000, 'the messages are in the database file, not only in the WAL')
})

t.test('the checkpoint worker runs at the lowest priority: on a busy core the event loop goes first', { skip: process.platform !== 'linux' && 'thread priorities are read from /proc' }, async (t) => {
  const niceOf = (tid: string | number): number => {
    // Field 19 of stat, counted after the command name (which may hold spaces).
    const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return Number(fields[16])
  }
  const niceOfThreads = (): number[] => readdirSync('/proc/self/task').map(niceOf)
  t.notOk(niceOfThreads().includes(19), 'no thread at nice 19 before')
  const store = new SqliteStore({ dataDir: tempDir(), synchronous: 'normal', checkpointPages: 100 })
  t.teardown(() => store.close())
  const started = Date.now()
  while (!niceOfThreads().includes(19) && Date.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(niceOfThreads().filter((nice) => nice === 19).length, 1, 'one thread (the worker) at nice 19')
  // The main thread's id is the pid (not always the first listed: thread ids wrap around too).
  t.equal(niceOf(process.pid), 0, 'the event loop\'s thread keeps its priority')
})

t.test('if the checkpoint worker stops, the writer\'s automatic checkpoints take over', async (t) => {
  const dataDir = tempDir()
  const store = new SqliteStore({ dataDir, synchronous: 'normal', checkpointPages: 100 })
  t.teardown(() => store.close())
  const writer = (store as unknown as { db: Database.Database }).db
  await (store.checkpointer as unknown as { worker: Worker }).worker.terminate()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(writer.prepare('PRAGMA wal_autocheckpoint').pluck().get(), 10_000, 'automatic checkpoints every 10,000 pages')
  await store.createUser({ id: 'alice', displayName: 'alice', passwordHash: null, createdAt: 1 })
  t.match(await store.getUser('alice'), { id: 'alice' }, 'the store keeps working')
})

t.test('under writes that never stop, the WAL starts over after checkpoints instead of growing', async (t) => {
  const dataDir = tempDir()
  const told = { pages: 0, holds: [] as number[] }
  // A checkpoint every 500 pages (2 MB); writes go on while it copies.
  const store = new SqliteStore({
    dataDir,
    synchronous: 'normal',
    checkpointPages: 500,
    observer: { checkpointed: (pages) => { told.pages += pages }, writesHeld: (seconds) => { told.holds.push(seconds) }, indexed: () => {} }
  })
  t.teardown(() => store.close())
  const users = Array.from({ length: 100 }, (_, i) => `u${i}`)
  for (const id of users) await store.createUser({ id, displayName: id, passwordHash: null, createdAt: 1 })
  let largest = 0
  let written = 0
  const started = Date.now()
  while (Date.now() - started < 3000) {
    await store.appendMessages(Array.from({ length: 50 }, (_, i) => ({ from: users[(written + i) % 100] as string, to: users[(written + i + 1) % 100] as string, content: 'x'.repeat(200), clientMsgId: null, createdAt: 1 })))
    written += 50
    largest = Math.max(largest, statSync(join(dataDir, 'duolog.db-wal')).size)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  t.ok((store.checkpointer?.pages ?? 0) > 2000, `checkpoints kept up (${store.checkpointer?.pages ?? 0} pages copied for ${written} messages)`)
  t.ok(largest < 20_000_000, `the WAL file stayed under 20 MB (at most ${(largest / 1e6).toFixed(1)} MB)`)
  // What an operator sees of it (duolog_sqlite_*): every page copied, and each time the sends waited for a restart.
  t.equal(told.pages, store.checkpointer?.pages, 'the observer is told of every page copied')
  t.ok(told.holds.length > 0, `the observer is told of the holds that started the WAL over (${told.holds.length}, at most ${(Math.max(...told.holds) * 1000).toFixed(1)} ms)`)
  t.ok(told.holds.every((seconds) => seconds >= 0 && seconds < 0.5), 'each hold is timed, and none outlasts the 500 ms cap')
})

t.test('each slice of an index run is reported with the time it held the event loop, and what waits for the next run is counted', async (t) => {
  const slices: number[] = []
  const store = new SqliteStore({
    dataDir: tempDir(),
    synchronous: 'normal',
    indexBatch: 200,
    indexSliceRows: 20,
    indexDelayMs: 60_000,
    observer: { checkpointed: () => {}, writesHeld: () => {}, indexed: (seconds) => { slices.push(seconds) } }
  })
  t.teardown(() => store.close())
  await store.createUser({ id: 'alice', displayName: 'alice', passwordHash: null, createdAt: 1 })
  await store.createUser({ id: 'bob', displayName: 'bob', passwordHash: null, createdAt: 1 })
  const startedWith = slices.length
  await store.appendMessages(Array.from({ length: 150 }, () => ({ from: 'alice', to: 'bob', content: 'hi', clientMsgId: null, createdAt: 1 })))
  t.equal(store.unindexed, 150, 'below the batch: all 150 wait for the next run')
  t.equal(slices.length, startedWith, 'no run yet')
  await store.appendMessages(Array.from({ length: 100 }, () => ({ from: 'bob', to: 'alice', content: 'hi', clientMsgId: null, createdAt: 1 })))
  const started = Date.now()
  while (store.unindexed > 0 && Date.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(store.unindexed, 0, 'the run indexed them all')
  // 250 messages, each a stream entry for both users and a conversation row: over 20 rows per slice, many slices.
  t.ok(slices.length - startedWith >= 10, `the run was written in slices (${slices.length - startedWith})`)
  t.ok(slices.every((seconds) => Number.isFinite(seconds) && seconds >= 0), 'each slice timed')
})
