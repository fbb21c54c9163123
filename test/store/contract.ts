import type { Test } from 'tap'
import type { NewMessage, Store } from '../../src/store/store.js'
import type { OutboxSettings } from '../../src/store/outbox.js'
import { WEBHOOK_EVENT_TYPES } from '../../src/webhooks/events.js'

export interface StoreOptions { outbox?: OutboxSettings }

/**
 * The contract every Store implementation keeps. Each backend's test file calls this
 * with a factory that makes a fresh, empty store.
 */
export function storeContract (t: Test, makeStore: (options?: StoreOptions) => Promise<Store>): void {
  const msg = (from: string, to: string, content: string, clientMsgId: string | null = null): NewMessage =>
    ({ from, to, content, clientMsgId, createdAt: Date.now() })

  async function withUsers (t: Test, ...ids: string[]): Promise<Store> {
    return await withOptions(t, {}, ...ids)
  }

  async function withOptions (t: Test, options: StoreOptions, ...ids: string[]): Promise<Store> {
    const store = await makeStore(options)
    t.teardown(() => store.close())
    for (const id of ids) await store.createUser({ id, displayName: id, passwordHash: null, createdAt: Date.now() })
    return store
  }

  t.test('users', async (t) => {
    const store = await withUsers(t, 'alice', 'bob')
    t.equal(await store.createUser({ id: 'alice', displayName: 'again', passwordHash: 'h', createdAt: 1 }), false, 'an id is taken once')
    t.equal(await store.createUser({ id: 'ALICE', displayName: 'again', passwordHash: 'h', createdAt: 1 }), false, 'in any case')
    t.equal(await store.getUser('ALICE'), undefined, 'ids are looked up exactly')
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
    t.same((await store.readStream('alice', 0, 10)).map((e) => e.message.content), ['1', '2', '3'])
    t.same((await store.readStream('alice', 1, 1)).map((e) => e.message.content), ['2'], 'after and limit')
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
    t.same((await store.readStream('bob', 2, 10)).map((e) => e.message.content), ['twice'])
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

  t.test('an unknown sender or recipient is refused and takes no seq', async (t) => {
    const store = await withUsers(t, 'alice', 'bob')
    const outcomes = await store.appendMessages([msg('ghost', 'bob', 'x'), msg('alice', 'ghost', 'y'), msg('ghost', 'ghost', 'z', 'k'), msg('alice', 'bob', 'ok')])
    t.same(outcomes.map((o) => o.status), ['unknown_sender', 'unknown_recipient', 'unknown_sender', 'stored'])
    t.same(await store.streamState('bob'), { lastSeq: 1, ackedSeq: 0 }, 'the refused messages took no seq')
    t.same(await store.streamState('ghost'), { lastSeq: 0, ackedSeq: 0 })
    t.same((await store.readStream('bob', 0, 10)).map((e) => e.message.content), ['ok'])
  })

  t.test('hasConversation: once a message went either way, for both users only', async (t) => {
    const store = await withUsers(t, 'alice', 'bob', 'carol')
    t.equal(await store.hasConversation('alice', 'bob'), false)
    await store.appendMessages([msg('alice', 'bob', 'hi')])
    t.equal(await store.hasConversation('alice', 'bob'), true)
    t.equal(await store.hasConversation('bob', 'alice'), true, 'the recipient has it too')
    t.equal(await store.hasConversation('alice', 'carol'), false)
    t.same(await store.markRead('carol', 'alice', 1), { status: 'invalid' }, 'no marker where there is no conversation')
  })

  t.test('sessions: revoking one, revoking all of a user, and the revocations since a time', async (t) => {
    const store = await withUsers(t, 'alice', 'bob')
    await store.createSession({ id: 's1', userId: 'alice', createdAt: 1000 })
    await store.createSession({ id: 's2', userId: 'alice', createdAt: 1000 })
    await store.createSession({ id: 's3', userId: 'bob', createdAt: 1000 })
    t.same(await store.revokeSession('s1', 2000), { id: 's1', userId: 'alice', createdAt: 1000, revokedAt: 2000 })
    t.same(await store.revokeSession('s1', 3000), { id: 's1', userId: 'alice', createdAt: 1000, revokedAt: 2000 }, 'the first revocation time stays')
    t.equal(await store.revokeSession('nope', 3000), undefined)
    t.same(await store.revokeUserSessions('alice', 4000), ['s2'], 'only the live ones')
    t.same(await store.revokeUserSessions('alice', 5000), [])
    t.same((await store.revokedSessions(0)).sort(), ['s1', 's2'])
    t.same(await store.revokedSessions(3000), ['s2'])
  })

  t.test('refresh tokens rotate once; a reuse ends the session; unknown, expired and ended ones are invalid', async (t) => {
    const store = await withUsers(t, 'alice')
    await store.createSession({ id: 's1', userId: 'alice', createdAt: 1000 }, { hash: 'r1', expiresAt: 10_000 })
    const rotated = await store.rotateRefreshToken('r1', { hash: 'r2', expiresAt: 20_000 }, 2000)
    t.match(rotated, { status: 'rotated', session: { id: 's1', userId: 'alice', revokedAt: null } })
    t.match(await store.rotateRefreshToken('r2', { hash: 'r3', expiresAt: 30_000 }, 3000), { status: 'rotated' }, 'the new one works once')
    t.match(await store.rotateRefreshToken('r1', { hash: 'r4', expiresAt: 30_000 }, 4000), { status: 'reused', session: { id: 's1', revokedAt: 4000 } },
      'presenting a used token again ends the session')
    t.same(await store.revokedSessions(4000), ['s1'])
    t.same(await store.rotateRefreshToken('r3', { hash: 'r5', expiresAt: 40_000 }, 5000), { status: 'invalid' }, 'every token of an ended session is refused')
    t.same(await store.rotateRefreshToken('r4', { hash: 'r6', expiresAt: 40_000 }, 5000), { status: 'invalid' }, 'the token a reuse asked for was never issued')
    t.same(await store.rotateRefreshToken('unknown', { hash: 'r7', expiresAt: 40_000 }, 5000), { status: 'invalid' })

    await store.createSession({ id: 's2', userId: 'alice', createdAt: 1000 }, { hash: 'e1', expiresAt: 6000 })
    t.same(await store.rotateRefreshToken('e1', { hash: 'e2', expiresAt: 9000 }, 6000), { status: 'invalid' }, 'expired at its expiry time')
    t.same(await store.revokedSessions(0), ['s1'], 'an expired token does not end its session')
  })

  t.test('ping and close', async (t) => {
    const store = await makeStore()
    await t.resolves(store.ping())
    await store.close()
    await t.rejects(store.ping(), 'a closed store does not answer')
  })

  t.test('outbox: events commit with their change; claims are exclusive until their lease ends; per-user order', async (t) => {
    const all: OutboxSettings = { events: new Set(WEBHOOK_EVENT_TYPES), undeliveredMs: 60_000 }
    const store = await withOptions(t, { outbox: all }, 'alice', 'bob', 'carol', 'dave')
    t.same(await store.claimEvents(Date.now(), 10, 1000), [], 'nothing yet')
    const failedAppend = await store.appendMessages([msg('alice', 'nobody', 'x')])
    t.equal(failedAppend[0]?.status, 'unknown_recipient')
    t.same(await store.claimEvents(Date.now(), 10, 1000), [], 'no event for what was not stored')

    const [a1, a2, c1] = (await store.appendMessages([msg('alice', 'bob', 'a1'), msg('alice', 'bob', 'a2'), msg('carol', 'dave', 'c1')]))
      .map((o) => o.status === 'stored' ? o.message : undefined)
    const now = Date.now()
    const claimed = await store.claimEvents(now, 10, 1000)
    t.same(claimed.map((e) => [e.type, JSON.parse(e.data).content]), [['message.created', 'a1'], ['message.created', 'c1']],
      'the first event of each user; a2 waits for a1; undelivered events are not due yet')
    t.match(JSON.parse(claimed[0]?.data ?? '{}'), { id: a1?.id, from: 'alice', to: 'bob', senderSeq: 1, recipientSeq: 1 })
    t.same(await store.claimEvents(now, 10, 1000), [], 'claimed events are not claimed again')
    t.same((await store.claimEvents(now + 1000, 10, 1000)).map((e) => e.uid).sort(), claimed.map((e) => e.uid).sort(), 'until their lease ends')

    const [first, second] = claimed as [typeof claimed[0], typeof claimed[0]]
    await store.recordAttempts([{ id: first.id, outcome: { status: 'failed', at: now, httpStatus: 500, error: 'boom', retryAt: now + 5000 } }])
    t.same(await store.claimEvents(now + 1500, 10, 1000), [], 'a2 still waits: a1 failed but is retried')
    await store.recordAttempts([{ id: first.id, outcome: { status: 'delivered', at: now + 5000, httpStatus: 204 } }])
    await store.recordAttempts([{ id: second.id, outcome: { status: 'delivered', at: now, httpStatus: 200 } }])
    const next = await store.claimEvents(now + 5000, 10, 1000)
    t.same(next.map((e) => [e.type, JSON.parse(e.data).content]), [['message.created', 'a2']], 'released once a1 was delivered')

    // Given up: its followers go on.
    t.equal((await store.markRead('bob', 'alice', a2?.id ?? 0)).status, 'advanced')
    await store.recordAttempts([{ id: (next[0] as typeof next[0]).id, outcome: { status: 'failed', at: now, httpStatus: null, error: 'timeout', retryAt: null } }])
    const read = await store.claimEvents(now + 5000, 10, 1000)
    t.match(read.map((e) => [e.type, JSON.parse(e.data)]), [['message.read', { userId: 'bob', peer: 'alice', readUpTo: a2?.id }]])

    const failed = await store.deliveries({ status: 'failed', limit: 10 })
    t.match(failed, [{ type: 'message.created', status: 'failed', attempts: 1, lastStatus: null, lastError: 'timeout', nextAttemptAt: null }])
    t.equal(await store.retryEvent(failed[0]?.uid ?? '', now + 5500), 'scheduled', 'a given-up event may be retried')
    t.equal(await store.retryEvent(first.uid, now), 'not_failed')
    t.equal(await store.retryEvent('evt_unknown', now), 'unknown')
    t.same((await store.claimEvents(now + 5500, 10, 1000)).map((e) => e.uid), [failed[0]?.uid])

    // message.undelivered: due later, skipped once acknowledged.
    const due = await store.claimEvents(now + 120_000, 10, 1000)
    t.same(due.filter((e) => e.type === 'message.undelivered').map((e) => JSON.parse(e.data).id).sort(), [a1?.id, a2?.id, c1?.id].sort())
    t.equal(await store.messageAcknowledged(a1?.id ?? 0), false)
    await store.ack('bob', 1)
    t.equal(await store.messageAcknowledged(a1?.id ?? 0), true)
    t.equal(await store.messageAcknowledged(a2?.id ?? 0), false)

    t.equal(await store.pruneEvents(now + 10_000, 0, 100), 2, 'delivered events finished before the time are pruned')
    t.equal((await store.deliveries({ status: 'delivered', limit: 10 })).length, 0)
  })

  t.test('outbox: nothing is written for an event type that is not sent', async (t) => {
    const store = await withOptions(t, { outbox: { events: new Set(['user.deleted']), undeliveredMs: 0 } }, 'alice', 'bob')
    await store.appendMessages([msg('alice', 'bob', 'a1')])
    t.same(await store.claimEvents(Date.now() + 1000, 10, 1000), [])
    t.same(await store.deliveries({ limit: 10 }), [])
  })

  t.test('edits and deletions: an entry in both streams at the next seqs; content erased on delete, from webhook events too', async (t) => {
    const store = await withOptions(t, { outbox: { events: new Set(WEBHOOK_EVENT_TYPES), undeliveredMs: 60_000 } }, 'alice', 'bob')
    const [first, second] = (await store.appendMessages([msg('alice', 'bob', 'helo', 'k1'), msg('bob', 'alice', 'hi')])).map((o) => o.status === 'stored' ? o.message : undefined)
    const id = first?.id ?? 0
    const edited = await store.changeMessage({ id, kind: 'edited', content: 'hello', at: 5000 })
    t.match(edited, { status: 'changed', senderSeq: 3, recipientSeq: 3, message: { id, content: 'hello', editedAt: 5000, deletedAt: null } })
    t.same((await store.readStream('bob', 0, 10)).map((e) => [e.seq, e.kind, e.message.id, e.message.content]),
      [[1, 'message', id, 'hello'], [2, 'message', second?.id, 'hi'], [3, 'edited', id, 'hello']])
    t.same(await store.streamState('alice'), { lastSeq: 3, ackedSeq: 0 })
    const [next] = await store.appendMessages([msg('alice', 'bob', 'after the edit')])
    t.match(next, { status: 'stored', message: { senderSeq: 4, recipientSeq: 4 } }, 'seqs go on after a change entry')

    const deleted = await store.changeMessage({ id, kind: 'deleted', at: 6000 })
    t.match(deleted, { status: 'changed', senderSeq: 5, recipientSeq: 5, message: { content: '', deletedAt: 6000, editedAt: 5000 } })
    t.match(await store.getMessage(id), { content: '', deletedAt: 6000 })
    t.same((await store.readStream('alice', 4, 10)).map((e) => [e.seq, e.kind, e.message.content]), [[5, 'deleted', '']])
    t.match((await store.conversation('bob', 'alice', { limit: 10 })).find((m) => m.id === id), { content: '', deletedAt: 6000 }, 'history shows it deleted')
    t.same(await store.changeMessage({ id, kind: 'edited', content: 'again', at: 7000 }), { status: 'deleted' })
    t.same(await store.changeMessage({ id: 999_999, kind: 'deleted', at: 7000 }), { status: 'not_found' })
    t.same(await store.markDelivered('bob', 0, 5), [{ peer: 'alice', upTo: next?.status === 'stored' ? next.message.id : -1 }], 'change entries are not deliveries')

    // Every event, in the order the sender would get them (each delivered before the next is due).
    const events = []
    for (let round = 0; round < 20; round++) {
      const due = await store.claimEvents(Date.now() + 120_000, 100, 1000)
      if (due.length === 0) break
      events.push(...due)
      for (const e of due) await store.recordAttempts([{ id: e.id, outcome: { status: 'delivered', at: Date.now(), httpStatus: 200 } }])
    }
    const about = events.filter((e) => e.messageId === id)
    t.same(about.map((e) => e.type).sort(), ['message.created', 'message.deleted', 'message.edited'], 'no message.undelivered for a deleted message')
    for (const e of about) t.match(JSON.parse(e.data), { id, content: '', deletedAt: new Date(6000).toISOString() }, `${e.type}: no content left`)
    t.notOk(about.some((e) => e.data.includes('hel')), 'the old content is nowhere in the outbox')
  })

  t.test('blocks: a blocked sender\'s message is stored for the sender only', async (t) => {
    const store = await withOptions(t, { outbox: { events: new Set(WEBHOOK_EVENT_TYPES), undeliveredMs: 0 } }, 'alice', 'mallory')
    const [before] = await store.appendMessages([msg('mallory', 'alice', 'before')])
    await store.block('alice', 'mallory', 1000)
    await store.block('alice', 'mallory', 2000)
    t.same(await store.blocksOf('alice'), [{ userId: 'mallory', createdAt: 1000 }], 'a second block keeps the first time')
    t.equal(await store.blockedEitherWay('alice', 'mallory'), true)
    t.equal(await store.blockedEitherWay('mallory', 'alice'), true, 'either way')
    const [hidden] = await store.appendMessages([msg('mallory', 'alice', 'hidden')])
    t.match(hidden, { status: 'stored', message: { senderSeq: 2, recipientSeq: 0 } })
    const hiddenId = hidden?.status === 'stored' ? hidden.message.id : 0
    t.same((await store.readStream('alice', 0, 10)).map((e) => e.message.content), ['before'], 'not in the blocker\'s stream')
    t.same((await store.readStream('mallory', 0, 10)).map((e) => e.message.content), ['before', 'hidden'], 'in the sender\'s')
    t.same(await store.streamState('alice'), { lastSeq: 1, ackedSeq: 0 })
    t.same((await store.conversation('alice', 'mallory', { limit: 10 })).map((m) => m.content), ['before'])
    t.same((await store.conversation('mallory', 'alice', { limit: 10 })).map((m) => m.content), ['hidden', 'before'])
    t.match(await store.conversations('alice', { limit: 10 }), [{ peer: 'mallory', unread: 1, lastMessage: { content: 'before' } }], 'not counted')
    t.same(await store.markRead('alice', 'mallory', hiddenId), { status: 'invalid' }, 'the blocker cannot mark it read')
    t.same(await store.markRead('alice', 'mallory', before?.status === 'stored' ? before.message.id : 0), { status: 'advanced', readUpTo: before?.status === 'stored' ? before.message.id : 0 })
    t.match(await store.conversations('alice', { limit: 10 }), [{ peer: 'mallory', unread: 0 }])
    const events = await store.claimEvents(Date.now() + 1000, 100, 1000)
    t.notOk(events.some((e) => e.messageId === hiddenId), 'no webhook event for a hidden message')
    t.equal(await store.unblock('alice', 'mallory'), true)
    t.equal(await store.unblock('alice', 'mallory'), false)
    const [after] = await store.appendMessages([msg('mallory', 'alice', 'after')])
    t.match(after, { status: 'stored', message: { senderSeq: 3, recipientSeq: 2 } })
  })

  t.test('users: updated, then deleted: content erased, a tombstone keeps the id', async (t) => {
    const store = await withOptions(t, { outbox: { events: new Set(WEBHOOK_EVENT_TYPES), undeliveredMs: 0 } }, 'alice', 'bob')
    t.equal(await store.updateUser('alice', { displayName: 'Alice' }), true)
    t.equal(await store.updateUser('alice', { passwordHash: 'h2' }), true)
    t.match(await store.getUser('alice'), { displayName: 'Alice', passwordHash: 'h2' })
    t.equal(await store.updateUser('nobody', { displayName: 'x' }), false)
    await store.createSession({ id: 's-alice', userId: 'alice', createdAt: 1 }, { hash: 'r-alice', expiresAt: Date.now() + 60_000 })
    await store.appendMessages([msg('alice', 'bob', 'secret 1', 'k1'), msg('bob', 'alice', 'reply'), msg('alice', 'bob', 'secret 2')])
    await store.block('alice', 'bob', 1)

    t.equal(await store.deleteUser('alice', 5000), true)
    t.equal(await store.deleteUser('alice', 6000), false, 'once')
    t.equal(await store.getUser('alice'), undefined)
    t.same([...(await store.lastSeen(['alice', 'bob'])).keys()], ['bob'])
    t.equal(await store.createUser({ id: 'alice', displayName: 'new', passwordHash: 'h', createdAt: 1 }), false, 'the id is never reused')
    t.equal(await store.createUser({ id: 'ALICE', displayName: 'new', passwordHash: 'h', createdAt: 1 }), false, 'in any case')
    t.same((await store.readStream('bob', 0, 10)).map((e) => [e.message.from, e.message.content, e.message.deletedAt]), [['alice', '', 5000], ['bob', 'reply', null], ['alice', '', 5000]])
    t.same((await store.conversation('bob', 'alice', { limit: 10 })).map((m) => m.content), ['', 'reply', ''])
    t.same(await store.readStream('alice', 0, 10), [], 'the deleted user\'s own stream is gone')
    t.same(await store.blocksOf('alice'), [])
    t.same(await store.revokedSessions(0), ['s-alice'], 'sessions ended')
    t.same(await store.rotateRefreshToken('r-alice', { hash: 'r2', expiresAt: Date.now() + 60_000 }, Date.now()), { status: 'invalid' })
    const [toDeleted, asDeleted] = await store.appendMessages([msg('bob', 'alice', 'hello?'), msg('alice', 'bob', 'ghost')])
    t.equal(toDeleted?.status, 'unknown_recipient')
    t.equal(asDeleted?.status, 'unknown_sender')
    const events = []
    for (let round = 0; round < 20; round++) {
      const due = await store.claimEvents(Date.now() + 1000, 100, 1000)
      if (due.length === 0) break
      events.push(...due)
      for (const e of due) await store.recordAttempts([{ id: e.id, outcome: { status: 'delivered', at: Date.now(), httpStatus: 200 } }])
    }
    t.notOk(events.some((e) => e.data.includes('secret')), 'no event holds the erased content')
    t.match(events.filter((e) => e.type === 'user.deleted').map((e) => JSON.parse(e.data)), [{ id: 'alice', deletedAt: new Date(5000).toISOString() }])
    t.equal(events[events.length - 1]?.type, 'user.deleted', 'after every earlier event of the user')
  })

  t.test('outbox: a message.undelivered row is written when its message.created is finished, and only if the message is not acknowledged by then', async (t) => {
    const store = await withOptions(t, { outbox: { events: new Set(['message.created', 'message.undelivered']), undeliveredMs: 1000 } }, 'alice', 'bob')
    const [acked, unacked] = (await store.appendMessages([msg('alice', 'bob', 'seen'), msg('alice', 'bob', 'not seen')])).map((o) => o.status === 'stored' ? o.message : undefined)
    await store.ack('bob', 1)
    const later = Date.now() + 60_000
    for (let round = 0; round < 5; round++) {
      const due = await store.claimEvents(later, 100, 1000)
      await store.recordAttempts(due.map((e) => ({ id: e.id, outcome: { status: 'delivered', at: Date.now(), httpStatus: 200 } })))
    }
    const all = await store.deliveries({ limit: 100 })
    t.same(all.map((d) => d.type).sort(), ['message.created', 'message.created', 'message.undelivered'], 'one message.undelivered: for the message not acknowledged')
    t.ok(acked !== undefined && unacked !== undefined)
  })
}
