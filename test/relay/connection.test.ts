import t, { type Test } from 'tap'
import { Connection } from '../../src/relay/connection.js'
import { Disconnect } from '../../src/relay/disconnect.js'
import { messageFrame, sentFrame } from '../../src/relay/frames.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { StoredMessage, StreamReader } from '../../src/store/store.js'
import { silentLog } from '../../src/log.js'
import { sleep } from '../helpers.js'
import { FakeTransport } from './fake-transport.js'

// The ordering logic of one connection, without a server: a Connection over a fake socket,
// reading a real (in-memory) SQLite store through a gate that holds reads open on demand.

const MAX_BUFFERED = 1024

interface Setup {
  store: SqliteStore
  stream: StreamReader & { reads: Array<[after: number, limit: number]>, hold: () => () => void }
  transport: FakeTransport
  connection: Connection
  /** Stores a message from alice to bob; returns it (bob's seq is recipientSeq). */
  send: (content: string) => Promise<StoredMessage>
}

async function setup (t: Test): Promise<Setup> {
  const store = new SqliteStore({ dataDir: ':memory:', synchronous: 'normal' })
  t.teardown(() => store.close())
  for (const id of ['alice', 'bob']) await store.createUser({ id, displayName: id, passwordHash: null, createdAt: Date.now() })
  let gate: Promise<void> | undefined
  const reads: Array<[number, number]> = []
  const stream = {
    reads,
    /** Reads finish only after the returned release is called (they read at once, then wait). */
    hold () {
      let release = (): void => {}
      gate = new Promise<void>((resolve) => { release = resolve })
      return () => { gate = undefined; release() }
    },
    streamState: async (userId: string) => await store.streamState(userId),
    async readStream (userId: string, after: number, limit: number) {
      reads.push([after, limit])
      const rows = await store.readStream(userId, after, limit)
      await gate
      return rows
    }
  }
  const transport = new FakeTransport()
  const connection = new Connection({ userId: 'bob', transport, stream, maxBufferedBytes: MAX_BUFFERED, log: silentLog })
  const send = async (content: string): Promise<StoredMessage> => {
    const [outcome] = await store.appendMessages([{ from: 'alice', to: 'bob', content, clientMsgId: null, createdAt: Date.now() }])
    if (outcome?.status !== 'stored') throw new Error('not stored')
    return outcome.message
  }
  return { store, stream, transport, connection, send }
}

/** Offers a stored message to bob's connection, as the bus would. */
const offer = (connection: Connection, m: StoredMessage): void => { connection.offer(m.recipientSeq, messageFrame(m, m.recipientSeq)) }

t.test('live entries offered during a sync are held, then sent after its page, in seq order', async (t) => {
  const { connection, transport, stream, send } = await setup(t)
  for (const c of ['1', '2', '3']) await send(c)
  await connection.start(3)
  const release = stream.hold()
  const replaying = connection.replay(0, 100)
  await sleep(10)
  const m4 = await send('4')
  const m5 = await send('5')
  offer(connection, m5)
  offer(connection, m4)
  t.same(transport.seqs(), [], 'nothing goes out while the sync reads')
  release()
  t.same(await replaying, { upTo: 3, more: false }, 'the page is what the store had when read')
  await sleep(10)
  t.same(transport.seqs(), [1, 2, 3, 4, 5], 'the page, then what was offered meanwhile, in order, once each')
})

t.test('a gap in the live entries is read from the store, then the entry goes out', async (t) => {
  const { connection, transport, stream, send } = await setup(t)
  await send('1')
  await connection.start(1)
  await send('2')
  await send('3')
  const m4 = await send('4')
  offer(connection, m4)
  await sleep(10)
  t.same(stream.reads, [[1, 2]], 'one read: the two entries between the cursor and the offer')
  t.same(transport.seqs(), [2, 3, 4])
  t.equal(connection.cursor, 4)
})

t.test('duplicates are dropped; a `sent` reply goes out even when it does not advance the stream', async (t) => {
  const { connection, transport, send } = await setup(t)
  await connection.start(0)
  const m1 = await send('1')
  offer(connection, m1)
  offer(connection, m1)
  const m2 = await send('2')
  offer(connection, m2)
  offer(connection, m1)
  t.same(transport.seqs(), [1, 2], 'each seq once')
  // bob sends: his `sent` (a reply) carries his own seq; its `message` twin comes later over the bus.
  connection.offer(2, sentFrame({ ...m2, senderSeq: 2 }), true)
  t.same(transport.frames().map((f) => f.type), ['message', 'message', 'sent'], 'the reply goes out though seq 2 was sent')
})

t.test('after a sync that answered more, live entries are dropped (they are in the store) until the client syncs to the end', async (t) => {
  const { connection, transport, send } = await setup(t)
  for (const c of ['1', '2', '3']) await send(c)
  await connection.start(3)
  t.same(await connection.replay(0, 2), { upTo: 2, more: true })
  offer(connection, await send('4'))
  connection.offer(9, sentFrame({ ...(await send('x')), senderSeq: 9 }), true)
  t.same(transport.seqs(), [1, 2, 9], 'paused: the entry is dropped, the reply is not')
  t.same(await connection.replay(2, 10), { upTo: 5, more: false })
  offer(connection, await send('6'))
  t.same(transport.seqs(), [1, 2, 9, 3, 4, 5, 6], 'the rest from the store, then live again')
})

t.test('a sync beyond the end of the stream is refused and leaves the connection live', async (t) => {
  const { connection, transport, send } = await setup(t)
  await send('1')
  await connection.start(1)
  await t.rejects(connection.replay(5, 10), { code: 'invalid_cursor' })
  offer(connection, await send('2'))
  t.same(transport.seqs(), [2])
  t.equal(transport.open, true)
})

t.test('a slow consumer is closed with 4003, and cut if the close cannot get through', async (t) => {
  const { connection, transport, send } = await setup(t)
  await connection.start(0)
  offer(connection, await send('1'))
  transport.bufferedAmount = MAX_BUFFERED + 1
  offer(connection, await send('2'))
  t.same(transport.closedWith, Disconnect.slowConsumer)
  t.same(transport.seqs(), [1], 'nothing more is queued for it')
  t.equal(transport.terminated, false)
  await sleep(1100)
  t.equal(transport.terminated, true, 'cut after the grace')
})

t.test('a store that fails while filling a gap closes the connection with 4001', async (t) => {
  const { connection, transport, store, send } = await setup(t)
  await connection.start(0)
  await send('1')
  const m2 = await send('2')
  await store.close()
  offer(connection, m2)
  await sleep(10)
  t.same(transport.closedWith, Disconnect.streamError)
})
