import type { Test } from 'tap'
import type { NewMessage, Store } from '../../src/store/store.js'

/**
 * The contract every Store implementation keeps. Each backend's test file calls this
 * with a factory that makes a fresh, empty store.
 */
export function storeContract (t: Test, makeStore: () => Promise<Store>): void {
  const msg = (from: string, to: string, content: string, clientMsgId: string | null = null): NewMessage =>
    ({ from, to, content, clientMsgId, createdAt: Date.now() })

  async function withUsers (t: Test, ...ids: string[]): Promise<Store> {
    const store = await makeStore()
    t.teardown(() => store.close())
    for (const id of ids) await store.createUser({ id, displayName: id, passwordHash: null, createdAt: Date.now() })
    return store
  }

  t.test('users', async (t) => {
    const store = await withUsers(t, 'alice', 'bob')
    t.equal(await store.createUser({ id: 'alice', displayName: 'again', passwordHash: 'h', createdAt: 1 }), false, 'an id is taken once')
    t.match(await store.getUser('alice'), { id: 'alice', displayName: 'alice', passwordHash: null, lastSeen: null })
    t.equal(await store.getUser('nobody'), undefined)
    await store.setLastSeen('alice', 1234)
    t.same([...(await store.lastSeen(['alice', 'nobody']))], [['alice', 1234]])
    await store.setLastSeen('alice', 1000)
    t.same([...(await store.lastSeen(['bob', 'alice']))], [['bob', null], ['alice', 1234]], 'never moved back; in the order asked')
  })

  t.test('append assigns dense seqs in both streams, in batch order', async (t) => {
    const store = await withUsers(t, 'alice', 'bob', 'carol')
    const outcomes = await store.appendMessages([msg('alice', 'bob', '1'), msg('bob', 'alice', '2'), msg('carol', 'alice', '3'), msg('alice', 'nobody', 'x')])
    t.same(outcomes.map((o) => o.status), ['stored', 'stored', 'stored', 'unknown_recipient'])
    const stored = outcomes.flatMap((o) => o.status === 'stored' ? [o.message] : [])
    t.same(stored.map((m) => [m.senderSeq, m.recipientSeq]), [[1, 1], [2, 2], [1, 3]])
    t.ok((stored[0]?.id ?? 0) < (stored[1]?.id ?? 0), 'ids grow')
    t.same((await store.readStream('alice', 0, 10)).map((m) => m.content), ['1', '2', '3'])
    t.same((await store.readStream('alice', 1, 1)).map((m) => m.content), ['2'], 'after and limit')
    t.same(await store.streamState('alice'), { lastSeq: 3, ackedSeq: 0 })
    t.same(await store.streamState('nobody'), { lastSeq: 0, ackedSeq: 0 })
  })

  t.test('clientMsgId makes a retry a duplicate, a reuse a conflict', async (t) => {
    const store = await withUsers(t, 'alice', 'bob')
    const [first] = await store.appendMessages([msg('alice', 'bob', 'hi', 'k1')])
    const [again, other, sameKeyOtherSender] = await store.appendMessages([msg('alice', 'bob', 'hi', 'k1'), msg('alice', 'bob', 'changed', 'k1'), msg('bob', 'alice', 'hi', 'k1')])
    t.equal(first?.status, 'stored')
    t.equal(again?.status, 'duplicate')
    t.equal(other?.status, 'conflict')
    t.equal(sameKeyOtherSender?.status, 'stored', 'the key is scoped to its sender')
    if (first?.status === 'stored' && again?.status === 'duplicate') t.same(again.message, first.message)
    t.equal((await store.streamState('bob')).lastSeq, 2, 'no seq taken by the retry')

    const inOneBatch = await store.appendMessages([msg('alice', 'bob', 'twice', 'k2'), msg('alice', 'bob', 'twice', 'k2'), msg('alice', 'bob', 'other', 'k2')])
    t.same(inOneBatch.map((o) => o.status), ['stored', 'duplicate', 'conflict'], 'a retry inside the same batch')
    t.same(inOneBatch.map((o) => 'message' in o ? o.message.id : 0), Array(3).fill(inOneBatch[0] !== undefined && 'message' in inOneBatch[0] ? inOneBatch[0].message.id : -1), 'all name the stored message')
    t.same((await store.readStream('bob', 2, 10)).map((m) => m.content), ['twice'])
  })

  t.test('acks only move forward', async (t) => {
    const store = await withUsers(t, 'alice', 'bob')
    await store.appendMessages([msg('bob', 'alice', '1'), msg('bob', 'alice', '2')])
    t.equal(await store.ack('alice', 2), 2)
    t.equal(await store.ack('alice', 1), 2)
    t.equal((await store.streamState('alice')).ackedSeq, 2)
  })

  t.test('conversation pages are newest first within bounds', async (t) => {
    const store = await withUsers(t, 'alice', 'bob', 'carol')
    const outcomes = await store.appendMessages([1, 2, 3, 4, 5].map((i) => msg(i % 2 === 0 ? 'bob' : 'alice', i % 2 === 0 ? 'alice' : 'bob', `m${i}`)))
    await store.appendMessages([msg('carol', 'alice', 'elsewhere')])
    const ids = outcomes.map((o) => (o.status === 'stored' ? o.message.id : 0))
    t.same((await store.conversation('alice', 'bob', { limit: 2 })).map((m) => m.content), ['m5', 'm4'])
    t.same((await store.conversation('bob', 'alice', { before: ids[3], limit: 10 })).map((m) => m.content), ['m3', 'm2', 'm1'])
    t.same((await store.conversation('alice', 'bob', { after: ids[2], limit: 10 })).map((m) => m.content), ['m5', 'm4'])
  })

  t.test('conversations: newest first, exact unread counts, markers that only move forward', async (t) => {
    const store = await withUsers(t, 'alice', 'bob', 'carol')
    const ids: number[] = []
    const send = async (from: string, to: string): Promise<number> => {
      const [o] = await store.appendMessages([msg(from, to, `${from}->${to}`)])
      if (o?.status !== 'stored') throw new Error('not stored')
      ids.push(o.message.id)
      return o.message.id
    }
    const b1 = await send('bob', 'alice')
    const b2 = await send('bob', 'alice')
    await send('alice', 'bob')
    const b3 = await send('bob', 'alice')
    const c1 = await send('carol', 'alice')

    let list = await store.conversations('alice', { limit: 10 })
    t.same(list.map((c) => [c.peer, c.lastMessage.id, c.unread]), [['carol', c1, 1], ['bob', b3, 3]])
    t.same(await store.markRead('alice', 'bob', b2), { status: 'advanced', readUpTo: b2 })
    t.same(await store.markRead('alice', 'bob', b1), { status: 'unchanged', readUpTo: b2 }, 'never backwards')
    t.same(await store.markRead('alice', 'bob', c1 + 100), { status: 'invalid' })
    list = await store.conversations('alice', { limit: 10 })
    t.match(list[1], { peer: 'bob', unread: 1, readUpTo: b2 })
    const bobsView = await store.conversations('bob', { limit: 10 })
    t.match(bobsView, [{ peer: 'alice', unread: 1, peerReadUpTo: b2, peerDeliveredUpTo: 0 }])

    t.same(await store.markDelivered('alice', 0, 4), [{ peer: 'bob', upTo: b3 }], 'alice\'s seq 1-4: bob\'s messages up to b3')
    t.same(await store.markDelivered('alice', 0, 4), [], 'nothing moves twice')
    t.same((await store.markDelivered('alice', 4, 5)).map((d) => d.peer), ['carol'])
    t.match(await store.conversations('bob', { limit: 10 }), [{ peer: 'alice', peerDeliveredUpTo: b3 }])

    await send('alice', 'carol')
    t.same((await store.conversations('alice', { limit: 1 })).map((c) => c.peer), ['carol'])
    t.same((await store.conversations('alice', { before: c1 + 1, limit: 1 })).map((c) => c.peer), ['bob'], 'paged by last message id')
    t.same(await store.conversations('nobody', { limit: 5 }), [])
    t.same(await store.markRead('alice', 'bob', b3), { status: 'advanced', readUpTo: b3 })
    t.equal((await store.conversations('alice', { limit: 10 })).find((c) => c.peer === 'bob')?.unread, 0)
  })

  t.test('ping and close', async (t) => {
    const store = await makeStore()
    await t.resolves(store.ping())
    await store.close()
    await t.rejects(store.ping(), 'a closed store does not answer')
  })
}
