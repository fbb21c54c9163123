import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import { WebhookSender } from '../../src/webhooks/sender.js'
import type { Attempt, ClaimedEvent, OutboxStore } from '../../src/store/outbox.js'
import { silentLog } from '../../src/log.js'
import { eventually, sleep } from '../helpers.js'

const SECRET = 'whsec_' + Buffer.from('a webhook secret of some length').toString('base64')

/** An outbox in memory (a small seam): hands out `events` once each, keeps what is recorded. */
function fakeOutbox (events: ClaimedEvent[]): OutboxStore & { recorded: Attempt[], claims: number } {
  const waiting = [...events]
  const outbox = {
    recorded: [] as Attempt[],
    claims: 0,
    async claimEvents (_now: number, limit: number) { outbox.claims++; return waiting.splice(0, limit) },
    async recordAttempts (attempts: readonly Attempt[]) { outbox.recorded.push(...attempts) },
    async messageAcknowledged () { return false },
    async deliveries () { return [] },
    async retryEvent () { return 'unknown' as const },
    async pruneEvents () { return 0 }
  }
  return outbox
}

const event = (id: number, createdAt = Date.now()): ClaimedEvent =>
  ({ id, uid: `evt_${String(id).padStart(32, '0')}`, type: 'message.created', data: '{"id":1}', createdAt, messageId: 1, attempts: 0 })

async function receiver (t: Test, status: number): Promise<{ url: string, hits: () => number }> {
  let hits = 0
  const server = createServer((req, res) => { hits++; req.resume(); req.on('end', () => { res.statusCode = status; res.end() }) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => { resolve() }) }))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, hits: () => hits }
}

t.test('a failure within 24 hours of the event is retried later; one after that gives up', async (t) => {
  const { url } = await receiver(t, 500)
  const dayAgo = Date.now() - 24 * 3600_000 - 1000
  const outbox = fakeOutbox([event(1), event(2, dayAgo)])
  const sender = new WebhookSender({ url, secret: SECRET, outbox, log: silentLog })
  sender.start()
  await eventually(() => outbox.recorded.length === 2)
  await sender.stop()
  const byId = new Map(outbox.recorded.map((a) => [a.id, a.outcome]))
  t.match(byId.get(1), { status: 'failed', httpStatus: 500, error: 'the receiver answered 500' })
  const retryAt = (byId.get(1) as { retryAt: number }).retryAt
  t.ok(retryAt > Date.now() + 3000 && retryAt < Date.now() + 6000, 'retried after about 5 s')
  t.match(byId.get(2), { status: 'failed', retryAt: null }, 'given up')
})

t.test('a receiver that keeps failing is left alone for a while: ten failures in a row pause new attempts', async (t) => {
  const { url, hits } = await receiver(t, 503)
  const outbox = fakeOutbox(Array.from({ length: 40 }, (_, i) => event(i + 1)))
  const sender = new WebhookSender({ url, secret: SECRET, outbox, log: silentLog, concurrency: 1 })
  sender.start()
  await eventually(() => hits() >= 10)
  await sleep(500)
  t.equal(hits(), 10, 'no attempt during the pause')
  await eventually(() => hits() >= 11, 3000)
  await sleep(500)
  t.equal(hits(), 11, 'one after the first pause (1 s), then a longer pause (2 s)')
  await sender.stop()
})

t.test('an answer that takes longer than the timeout is a failure', async (t) => {
  const server = createServer(() => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => { resolve() }) }))
  const outbox = fakeOutbox([event(1)])
  const sender = new WebhookSender({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, secret: SECRET, outbox, log: silentLog, timeoutMs: 200 })
  sender.start()
  await eventually(() => outbox.recorded.length === 1)
  await sender.stop()
  t.match(outbox.recorded[0]?.outcome, { status: 'failed', httpStatus: null, error: 'no answer within 200 ms' })
})
