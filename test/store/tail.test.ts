import t from 'tap'
import { COUNTERS, CONVERSATION_INDEX, RECIPIENT_STREAM, RETRY_KEY, SENDER_STREAM, Tail, UserWrites, type TailEntry } from '../../src/store/tail.js'

// The rows an index run writes for each user, read back as words: what SqliteStore makes of
// them is covered by the contract and crash tests; these pin the order and the choice of rows.

let nextId = 1
const seqs = new Map<string, number>()
function message (from: string, to: string, options: { hidden?: boolean, clientMsgId?: string } = {}): TailEntry {
  const seq = (user: string): number => {
    const next = (seqs.get(user) ?? 0) + 1
    seqs.set(user, next)
    return next
  }
  return { id: nextId++, from, to, senderSeq: seq(from), recipientSeq: options.hidden === true ? 0 : seq(to), clientMsgId: options.clientMsgId ?? null }
}

function rowsOfRun (tail: Tail, upTo: number, { users, rank } = tail.runOrder()): string[] {
  const writes = new UserWrites()
  const rows: string[] = []
  for (const user of users) {
    tail.writesOf(user, upTo, rank, writes)
    const me = tail.userId(user)
    for (let i = 0; i < writes.length; i++) {
      const slot = writes.slot(i)
      switch (writes.kind(i)) {
        case COUNTERS: {
          const ids = Array.from(writes.byPeer.subarray(slot, writes.end(i)), (s) => tail.id(s))
          rows.push(`${me} counters with ${tail.userId(tail.peerOf(user, writes.byPeer[slot] as number))}: ${ids.join(',')}`)
          break
        }
        case CONVERSATION_INDEX: rows.push(`${me} conversation ${tail.id(slot)}`); break
        case SENDER_STREAM: rows.push(`${me} stream ${tail.senderSeq(slot)} = ${tail.id(slot)}`); break
        case RECIPIENT_STREAM: rows.push(`${me} stream ${tail.recipientSeq(slot)} = ${tail.id(slot)}`); break
        case RETRY_KEY: rows.push(`${me} retry key ${tail.clientMsgId(slot)} = ${tail.id(slot)}`); break
      }
    }
  }
  return rows
}

t.beforeEach(() => {
  nextId = 1
  seqs.clear()
})

t.test('each user: counters and conversation rows per peer in id order, then the stream, then retry keys', async (t) => {
  const tail = new Tail()
  for (const m of [
    message('carol', 'alice'), // 1
    message('alice', 'bob', { clientMsgId: 'k1' }), // 2
    message('bob', 'alice'), // 3
    message('alice', 'carol'), // 4
    message('alice', 'bob', { clientMsgId: 'k2' }) // 5
  ]) tail.add(m)
  t.same(rowsOfRun(tail, 5), [
    // alice is first in both pairs: she writes both conversations' rows.
    'alice counters with bob: 2,3,5',
    'alice conversation 2',
    'alice conversation 3',
    'alice conversation 5',
    'alice counters with carol: 1,4',
    'alice conversation 1',
    'alice conversation 4',
    'alice stream 1 = 1',
    'alice stream 2 = 2',
    'alice stream 3 = 3',
    'alice stream 4 = 4',
    'alice stream 5 = 5',
    'alice retry key k1 = 2',
    'alice retry key k2 = 5',
    'bob counters with alice: 2,3,5',
    'bob stream 1 = 2',
    'bob stream 2 = 3',
    'bob stream 3 = 5',
    'carol counters with alice: 1,4',
    'carol stream 1 = 1',
    'carol stream 2 = 4'
  ])
})

t.test('a message a block hides: in the sender\'s rows only, its conversation row written by the sender', async (t) => {
  const tail = new Tail()
  tail.add(message('zed', 'amy', { hidden: true }))
  tail.add(message('amy', 'zed'))
  t.same(rowsOfRun(tail, 2), [
    'amy counters with zed: 2',
    'amy conversation 2',
    'amy stream 1 = 2',
    'zed counters with amy: 1,2',
    'zed conversation 1',
    'zed stream 1 = 1',
    'zed stream 2 = 2'
  ])
  t.same(tail.visibleBetween('amy', 'zed').map((m) => m.id), [2], 'amy does not see the hidden message')
  t.same(tail.visibleBetween('zed', 'amy').map((m) => m.id), [1, 2])
  t.same(tail.visibleBetween('amy', 'nobody'), [])
})

t.test('only the run\'s messages: those that came after it started wait for the next run', async (t) => {
  const tail = new Tail()
  tail.add(message('a', 'b'))
  tail.add(message('b', 'a'))
  const order = tail.runOrder()
  tail.add(message('a', 'c'))
  t.same(rowsOfRun(tail, 2, order), [
    'a counters with b: 1,2',
    'a conversation 1',
    'a conversation 2',
    'a stream 1 = 1',
    'a stream 2 = 2',
    'b counters with a: 1,2',
    'b stream 1 = 1',
    'b stream 2 = 2'
  ])
})

t.test('a user with many peers and many messages: grouped by peer in id order, each group in id order', async (t) => {
  const tail = new Tail()
  const peers = Array.from({ length: 300 }, (_, i) => `p${String(299 - i).padStart(3, '0')}`)
  for (let round = 0; round < 5; round++) {
    for (const peer of peers) tail.add(round % 2 === 0 ? message('hub', peer) : message(peer, 'hub'))
  }
  const rows = rowsOfRun(tail, nextId).filter((row) => row.startsWith('hub counters'))
  t.equal(rows.length, 300)
  t.equal(rows[0], 'hub counters with p000: 300,600,900,1200,1500')
  t.equal(rows[299], 'hub counters with p299: 1,301,601,901,1201')
  t.ok(rows.every((row, i) => i === 0 || row > (rows[i - 1] as string)), 'peers in order')
})
