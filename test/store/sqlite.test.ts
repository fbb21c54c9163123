import t from 'tap'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SqliteStore } from '../../src/store/sqlite.js'
import { storeContract } from './contract.js'
import { tempDir } from '../helpers.js'

storeContract(t, async () => new SqliteStore({ dataDir: tempDir(), synchronous: 'normal' }))

t.test('a SQLite file keeps everything across a reopen, and migrations run once', async (t) => {
  const dataDir = tempDir()
  const first = new SqliteStore({ dataDir, synchronous: 'full' })
  await first.createUser({ id: 'alice', displayName: 'alice', passwordHash: null, createdAt: 1 })
  await first.createUser({ id: 'bob', displayName: 'bob', passwordHash: null, createdAt: 1 })
  await first.appendMessages([{ from: 'alice', to: 'bob', content: 'kept', clientMsgId: null, createdAt: 1 }])
  await first.close()
  const second = new SqliteStore({ dataDir, synchronous: 'normal' })
  t.same((await second.readStream('bob', 0, 10)).map((m) => m.content), ['kept'])
  t.throws(() => new SqliteStore({ dataDir, synchronous: 'normal' }), /locked/, 'a second process on the same file is refused')
  await second.close()
  const db = new Database(join(dataDir, 'duolog.db'), { readonly: true })
  t.equal(db.pragma('user_version', { simple: true }), 1)
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  db.close()
})

t.test('the hot queries use indexes, not scans', async (t) => {
  const dataDir = tempDir()
  await new SqliteStore({ dataDir, synchronous: 'normal' }).close()
  const db = new Database(join(dataDir, 'duolog.db'), { readonly: true })
  t.teardown(() => db.close())
  const plan = (sql: string): string => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; ')
  t.notMatch(plan('SELECT coalesce(max(seq), 0) FROM stream WHERE user_id = \'a\''), /SCAN/)
  t.notMatch(plan('SELECT * FROM stream s JOIN messages m ON m.id = s.message_id WHERE s.user_id = \'a\' AND s.seq > 5 ORDER BY s.seq LIMIT 10'), /SCAN/)
  t.notMatch(plan('SELECT * FROM messages m WHERE m.user_lo = \'a\' AND m.user_hi = \'b\' AND m.id < 10 AND m.id > 0 ORDER BY m.id DESC LIMIT 5'), /SCAN|TEMP B-TREE/)
  t.notMatch(plan('SELECT * FROM messages m WHERE m.sender = \'a\' AND m.client_msg_id = \'k\''), /SCAN/)
})
