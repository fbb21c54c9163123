// node --import tsx bench/prefill.ts DIR MESSAGES USERS: a duolog data directory holding
// USERS users (u0, u1, ...) and MESSAGES messages between them (each user writes to a few
// partners, as people do), written through the SQLite store itself and fully indexed, for
// a benchmark at steady state (`npm run bench -- --prefill 1000000`).
import { SqliteStore } from '../src/store/sqlite.js'

const [dir, messagesArg, usersArg] = process.argv.slice(2) as [string, string, string]
const total = Number(messagesArg)
const users = Number(usersArg)
const store = new SqliteStore({ dataDir: dir, synchronous: 'normal' })
for (let i = 0; i < users; i++) await store.createUser({ id: `u${i}`, displayName: `u${i}`, passwordHash: null, createdAt: Date.now() })
const started = Date.now() - total
const random = (n: number): number => Math.floor(Math.random() * n)
for (let written = 0; written < total; written += 256) {
  const batch = Array.from({ length: Math.min(256, total - written) }, (_, i) => {
    const from = random(users)
    // Ten partners each: the pair's own neighbours, so conversations have history.
    const to = (from + 1 + random(10)) % users
    return { from: `u${from}`, to: `u${to}`, content: `an earlier message, number ${written + i}, of about sixty-four bytes`, clientMsgId: null, createdAt: started + written + i }
  })
  await store.appendMessages(batch)
  // Index runs go on between batches, as they do in a server.
  if (written % 25_600 === 0) await new Promise((resolve) => setImmediate(resolve))
}
await store.close()
process.stdout.write(`prefilled ${dir}: ${total} messages between ${users} users\n`)
