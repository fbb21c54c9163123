// Run by test/store/checkpoint-crash.test.ts: stores batches of messages as fast as they
// commit while the checkpoint worker copies the WAL into the database every 50 pages, and
// prints each acknowledged message's clientMsgId (written before the next batch starts) and
// the pages checkpointed so far, until the test kills the process with SIGKILL.
import { writeSync } from 'node:fs'
import { SqliteStore } from '../../src/store/sqlite.js'
import { contentOf } from './checkpoint-crash-content.js'

/**
 * Writes all of text to stdout before returning (what is printed as acknowledged is in the
 * pipe before the next batch). The pipe may be non-blocking: when the test is slow to read,
 * a write is refused (EAGAIN) or partial, and is tried again.
 */
function print (text: string): void {
  const bytes = Buffer.from(text)
  let done = 0
  while (done < bytes.length) {
    try {
      done += writeSync(1, bytes, done)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err
    }
  }
}

const [dataDir, runArg] = process.argv.slice(2) as [string, string]
const store = new SqliteStore({ dataDir, synchronous: 'normal', checkpointPages: 50, indexBatch: 300, indexSliceRows: 50, indexDelayMs: 20 })
const users = ['a', 'b', 'c', 'd', 'e', 'f']
for (const id of users) await store.createUser({ id, displayName: id, passwordHash: null, createdAt: 1 })
print('ready\n')
for (let batch = 0; ; batch++) {
  const messages = Array.from({ length: 50 }, (_, i) => {
    const from = users[(batch + i) % 6] as string
    const to = users[(batch + i * 5 + 1) % 6] === from ? users[(batch + i + 1) % 6] as string : users[(batch + i * 5 + 1) % 6] as string
    const clientMsgId = `${runArg}-${batch}-${i}`
    return { from, to, content: contentOf(clientMsgId), clientMsgId, createdAt: Date.now() }
  })
  const outcomes = await store.appendMessages(messages)
  const acked = messages.filter((_, i) => outcomes[i]?.status === 'stored').map((m) => `${m.from} ${m.to} ${m.clientMsgId}`)
  print(`acked ${acked.join(',')}\ncheckpointed ${store.checkpointer?.pages ?? 0}\n`)
  // Index slices and the worker's messages run between batches.
  await new Promise((resolve) => setTimeout(resolve, 1))
}
