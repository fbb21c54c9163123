import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { SqliteStore } from '../../src/store/sqlite.js'
import { tempDir } from '../helpers.js'
import { contentOf } from './checkpoint-crash-content.js'

const CHILD = new URL('./checkpoint-crash-child.ts', import.meta.url).pathname
const KILLS = 10

t.test(`killed ${KILLS} times while checkpoints copy the WAL: nothing acknowledged is lost, streams dense, unread exact`, async (t) => {
  const dataDir = tempDir()
  /** Every acknowledged message: "from to clientMsgId". */
  const acked: string[] = []
  let checkpointed = 0
  for (let run = 0; run < KILLS; run++) {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, String(run)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    let ready = false
    let runCheckpointed = 0
    let killing = false
    // Killed anyway if the worker never checkpoints (then the count below fails the test).
    const fallback = setTimeout(() => child.kill('SIGKILL'), 15_000)
    const killed = once(child, 'exit') as Promise<[number | null, string | null]>
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const lines = out.split('\n')
      out = lines.pop() ?? ''
      for (const line of lines) {
        if (line === 'ready') ready = true
        if (line.startsWith('acked ') && line.length > 6) acked.push(...line.slice(6).split(','))
        if (line.startsWith('checkpointed ')) {
          runCheckpointed = Number(line.slice(13))
          // Somewhere in the stream of batches and checkpoints (one per 50 pages, looked for every
          // 100 ms), once the worker has made one: on a busy machine it may take a while to start.
          if (runCheckpointed > 0 && ready && !killing) {
            killing = true
            setTimeout(() => child.kill('SIGKILL'), Math.random() * 400)
          }
        }
      }
    })
    const [code, signal] = await killed
    clearTimeout(fallback)
    t.equal(signal, 'SIGKILL', `run ${run} was killed (exit code ${String(code)})`)
    checkpointed += runCheckpointed
  }
  t.ok(checkpointed > 0, `the worker checkpointed while the runs wrote (${checkpointed} pages)`)
  t.ok(acked.length > 0, `${acked.length} messages acknowledged`)

  const store = new SqliteStore({ dataDir, synchronous: 'normal' })
  t.teardown(() => store.close())
  const received = new Map<string, number>()
  for (const entry of acked) {
    const [from, to] = entry.split(' ') as [string, string]
    received.set(`${to} ${from}`, (received.get(`${to} ${from}`) ?? 0) + 1)
  }
  // Every acknowledged message is there: its retry is a duplicate.
  let missing = 0
  for (let i = 0; i < acked.length; i += 256) {
    const retries = await store.appendMessages(acked.slice(i, i + 256).map((entry) => {
      const [from, to, clientMsgId] = entry.split(' ') as [string, string, string]
      return { from, to, content: contentOf(clientMsgId), clientMsgId, createdAt: Date.now() }
    }))
    missing += retries.filter((o) => o.status !== 'duplicate').length
  }
  t.equal(missing, 0, 'each acknowledged message is stored (its retry is a duplicate)')
  for (const user of ['a', 'b', 'c', 'd', 'e', 'f']) {
    const { lastSeq } = await store.streamState(user)
    const stream = await store.readStream(user, 0, lastSeq + 1)
    t.same(stream.map((e) => e.seq), stream.map((_, i) => i + 1), `${user}: dense`)
    t.equal(stream.length, lastSeq, `${user}: every seq readable`)
    const counted = new Map<string, number>()
    for (const e of stream) if (e.message.to === user) counted.set(e.message.from, (counted.get(e.message.from) ?? 0) + 1)
    const conversations = await store.conversations(user, { limit: 10 })
    t.same(Object.fromEntries(conversations.filter((c) => c.unread > 0).map((c) => [c.peer, c.unread]).sort()),
      Object.fromEntries([...counted].sort()), `${user}: unread counts match the stream`)
    for (const [peer, count] of counted) {
      t.ok(count >= (received.get(`${user} ${peer}`) ?? 0), `${user} from ${peer}: at least the ${received.get(`${user} ${peer}`) ?? 0} acknowledged`)
    }
  }
})
