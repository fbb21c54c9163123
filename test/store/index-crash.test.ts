import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { SqliteStore } from '../../src/store/sqlite.js'
import { tempDir } from '../helpers.js'

const CHILD = new URL('./index-crash-child.ts', import.meta.url).pathname

// A run of 40 messages is about 150 writes, 3 per slice: killed after 1, 2, 5, 10 ... 60 turns
// lands before, inside and after it.
for (const turns of [1, 2, 5, 10, 20, 35, 50, 60]) {
  t.test(`killed ${turns} turns into an index run: after a restart, nothing is lost or counted twice`, async (t) => {
    const dataDir = tempDir()
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, String(turns)], { stdio: 'inherit' })
    const [code, signal] = await once(child, 'exit') as [number | null, string | null]
    t.equal(signal, 'SIGKILL', `killed (exit code ${String(code)})`)
    const store = new SqliteStore({ dataDir, synchronous: 'normal' })
    t.teardown(() => store.close())
    let total = 0
    for (const user of ['a', 'b', 'c', 'd']) {
      const stream = await store.readStream(user, 0, 1000)
      total += stream.length
      t.same(stream.map((e) => e.seq), stream.map((_, i) => i + 1), `${user}: dense`)
      t.equal(new Set(stream.map((e) => e.message.id)).size, stream.length, `${user}: each message once`)
      const received = new Map<string, number>()
      for (const e of stream) if (e.message.to === user) received.set(e.message.from, (received.get(e.message.from) ?? 0) + 1)
      const conversations = await store.conversations(user, { limit: 10 })
      t.same(Object.fromEntries(conversations.filter((c) => c.unread > 0).map((c) => [c.peer, c.unread]).sort()), Object.fromEntries([...received].sort()), `${user}: unread exact`)
      for (const c of conversations) {
        const history = await store.conversation(user, c.peer, { limit: 1000 })
        t.equal(new Set(history.map((m) => m.id)).size, history.length, `${user} with ${c.peer}: history without repeats`)
      }
    }
    t.equal(total, 80, 'all 40 messages, in both streams')
    const [retry] = await store.appendMessages([{ from: 'a', to: 'b', content: 'm0', clientMsgId: 'k0', createdAt: Date.now() }])
    t.equal(retry?.status, 'duplicate', 'retry keys survived')
  })
}
