// Run by test/store/index-crash.test.ts: stores messages in a SQLite store whose index runs
// are written one row per slice, and kills its own process with SIGKILL after a number of
// event-loop turns (slices) into the run, as a crash would.
import { SqliteStore } from '../../src/store/sqlite.js'

const [dataDir, turnsArg] = process.argv.slice(2) as [string, string]
const turns = Number(turnsArg)
const store = new SqliteStore({ dataDir, synchronous: 'normal', indexBatch: 40, indexSliceRows: 3, indexDelayMs: 60_000 })
const users = ['a', 'b', 'c', 'd']
for (const id of users) await store.createUser({ id, displayName: id, passwordHash: null, createdAt: 1 })
const batch = Array.from({ length: 40 }, (_, i) => {
  const from = users[i % 4] as string
  const to = users[(i * 3 + 1) % 4] === from ? users[(i + 1) % 4] as string : users[(i * 3 + 1) % 4] as string
  return { from, to, content: `m${i}`, clientMsgId: `k${i}`, createdAt: Date.now() }
})
// The 40th message starts a run: its first slice is written at once, the next one a turn later.
await store.appendMessages(batch)
let turn = 0
const next = (): void => {
  if (++turn >= turns) process.kill(process.pid, 'SIGKILL')
  setImmediate(next)
}
setImmediate(next)
