import t, { type Test } from 'tap'
import { createTokens, type Tokens } from '../../src/auth/tokens.js'
import { MemoryBus } from '../../src/bus/memory.js'
import { loadConfig } from '../../src/config.js'
import { Metrics } from '../../src/metrics.js'
import { silentLog } from '../../src/log.js'
import { MemoryPresence } from '../../src/presence/memory.js'
import { Disconnect } from '../../src/relay/disconnect.js'
import { createRelayServices, type RelayServices } from '../../src/relay/services.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { eventually, JWT_SECRET, sleep, testEnv, type Frame } from '../helpers.js'
import { FakeTransport } from './fake-transport.js'

// The per-socket handler and the relay's features without Fastify or a listening server:
// real tokens, an in-memory SQLite store and the in-process bus, over fake sockets.

interface Relay { services: RelayServices, tokens: Tokens, token: (user: string) => string }

async function relay (t: Test, env: Record<string, string> = {}): Promise<Relay> {
  const config = loadConfig(testEnv({ DUOLOG_WS_AUTH_TIMEOUT_MS: '100', ...env }))
  const store = new SqliteStore({ dataDir: ':memory:', synchronous: 'normal' })
  for (const id of ['alice', 'bob']) await store.createUser({ id, displayName: id, passwordHash: null, createdAt: Date.now() })
  const bus = new MemoryBus()
  const presenceStore = new MemoryPresence((channel, payload) => { void bus.publish(channel, payload) })
  const tokens = createTokens({ secret: JWT_SECRET, accessTokenTtlSeconds: 900, clockToleranceSeconds: 5, serviceClients: new Map([['backend', 'x']]), isRevoked: () => false })
  const services = createRelayServices({ config, store, bus, presenceStore, tokens, metrics: new Metrics(), log: silentLog })
  // Every socket ends as a real one would (its timers go with it).
  const sockets: Array<ReturnType<RelayServices['accept']>> = []
  const accept = services.accept
  services.accept = (...args) => { const events = accept(...args); sockets.push(events); return events }
  t.teardown(async () => {
    for (const events of sockets) events.closed(1000)
    services.close()
    await store.close()
  })
  return { services, tokens, token: (user) => tokens.issueUser(user, `session-of-${user}`).accessToken }
}

/** A socket of `user`, authenticated at the upgrade; resolves once `ready` went out. */
async function connected (r: Relay, user: string): Promise<{ transport: FakeTransport, events: ReturnType<RelayServices['accept']> }> {
  const transport = new FakeTransport()
  const events = r.services.accept(transport, await r.tokens.verify(r.token(user)), undefined)
  await eventually(() => transport.frames().some((f) => f.type === 'ready'))
  return { transport, events }
}

const ofType = (transport: FakeTransport, type: string): Frame[] => transport.frames().filter((f) => f.type === type)

t.test('a send reaches the recipient\'s socket and answers `sent` on the sender\'s', async (t) => {
  const r = await relay(t)
  const alice = await connected(r, 'alice')
  const bob = await connected(r, 'bob')
  alice.events.receive(JSON.stringify({ type: 'send', to: 'bob', content: 'hi', clientMsgId: 'c1' }))
  await eventually(() => ofType(bob.transport, 'message').length === 1)
  t.match(ofType(alice.transport, 'sent'), [{ clientMsgId: 'c1', seq: 1 }])
  t.match(ofType(bob.transport, 'message'), [{ from: 'alice', content: 'hi', seq: 1 }])
})

t.test('frames sent before the first-frame auth finishes are held and handled after `ready`, in order', async (t) => {
  const r = await relay(t)
  const transport = new FakeTransport()
  const events = r.services.accept(transport, null)
  events.receive(JSON.stringify({ type: 'auth', token: r.token('alice') }))
  events.receive(JSON.stringify({ type: 'ping' }))
  events.receive(JSON.stringify({ type: 'send', to: 'bob', content: 'early', clientMsgId: 'e1' }))
  await eventually(() => ofType(transport, 'sent').length === 1)
  t.same(transport.frames().map((f) => f.type), ['ready', 'pong', 'sent'])
})

t.test('authentication failures close with their disconnect values', async (t) => {
  const r = await relay(t)
  const cases: Array<[string, string | undefined, Disconnect]> = [
    ['silence', undefined, Disconnect.authTimeout],
    ['another frame first', JSON.stringify({ type: 'ping' }), Disconnect.authExpected],
    ['a forged token', JSON.stringify({ type: 'auth', token: r.token('alice').slice(0, -2) + 'xx' }), Disconnect.authFailed],
    ['a service token', JSON.stringify({ type: 'auth', token: r.tokens.issueService('backend').accessToken }), Disconnect.userTokenRequired]
  ]
  for (const [name, first, expected] of cases) {
    const transport = new FakeTransport()
    const events = r.services.accept(transport, null)
    if (first !== undefined) events.receive(first)
    await eventually(() => !transport.open)
    t.same(transport.closedWith, expected, name)
    events.closed(1000)
  }
})

t.test('a kick closes only the connections of the session it names', async (t) => {
  const r = await relay(t)
  const phone = new FakeTransport()
  r.services.accept(phone, await r.tokens.verify(r.tokens.issueUser('alice', 'phone-session').accessToken))
  const laptop = await connected(r, 'alice')
  await eventually(() => phone.sent.length > 0)
  r.services.hub.endSession('alice', 'phone-session', Disconnect.loggedOut)
  await eventually(() => !phone.open)
  t.same(phone.closedWith, Disconnect.loggedOut)
  t.equal(laptop.transport.open, true)
})

t.test('heartbeats: a socket that does not answer one ping is dropped at the next; any frame counts as an answer', async (t) => {
  const r = await relay(t, { DUOLOG_WS_HEARTBEAT_MS: '3600000' })
  const quiet = await connected(r, 'alice')
  const chatty = await connected(r, 'bob')
  r.services.heartbeats.check()
  t.equal(quiet.transport.pings, 1)
  chatty.events.receive(JSON.stringify({ type: 'ping' }))
  quiet.events.pong()
  r.services.heartbeats.check()
  t.equal(quiet.transport.terminated, false, 'a pong answers')
  t.equal(chatty.transport.terminated, false, 'a frame answers')
  r.services.heartbeats.check()
  t.equal(quiet.transport.terminated, true, 'silent for a whole interval')
  t.equal(chatty.transport.terminated, true)
})

t.test('closing the socket unregisters the connection and ends its typing indicators', async (t) => {
  const r = await relay(t)
  const alice = await connected(r, 'alice')
  const bob = await connected(r, 'bob')
  alice.events.receive(JSON.stringify({ type: 'typing', to: 'bob', state: 'start' }))
  await eventually(() => ofType(bob.transport, 'typing').length === 1)
  alice.transport.open = false
  alice.events.closed(1000)
  await sleep(10)
  t.same(ofType(bob.transport, 'typing').map((f) => f.state), ['start', 'stop'])
  t.equal(r.services.hub.registry.count('alice'), 0)
})

t.test('frames before `ready` are held up to 64; the next one closes the socket with frames_before_ready', async (t) => {
  const r = await relay(t)
  const transport = new FakeTransport()
  const events = r.services.accept(transport, null)
  events.receive(JSON.stringify({ type: 'auth', token: r.token('alice') }))
  // The connection starts asynchronously: everything received in this turn waits for it.
  for (let i = 0; i < 64; i++) events.receive(JSON.stringify({ type: 'ping' }))
  t.equal(transport.open, true, '64 are held')
  events.receive(JSON.stringify({ type: 'ping' }))
  t.same(transport.closedWith, Disconnect.framesBeforeReady)
})

t.test('a send over the rate is refused and the socket goes unread until the client may send again', async (t) => {
  const r = await relay(t, { DUOLOG_SEND_RATE: '10', DUOLOG_SEND_BURST: '2' })
  const alice = await connected(r, 'alice')
  for (let i = 1; i <= 3; i++) alice.events.receive(JSON.stringify({ type: 'send', to: 'bob', content: `m${i}`, clientMsgId: `c${i}` }))
  await eventually(() => ofType(alice.transport, 'sent').length === 2 && ofType(alice.transport, 'error').length === 1)
  const refusal = ofType(alice.transport, 'error')[0] as Frame
  t.match(refusal, { code: 'rate_limited', ref: 'c3' })
  t.same(alice.transport.pauses, [refusal.retryAfter], 'paused for exactly the wait it was told')
  t.ok(refusal.retryAfter > 0 && refusal.retryAfter <= 100)
})

t.test('a client that keeps sending past its rate without waiting is closed with rate_limit_ignored (4029)', async (t) => {
  const r = await relay(t, { DUOLOG_SEND_RATE: '1', DUOLOG_SEND_BURST: '1' })
  const alice = await connected(r, 'alice')
  for (let i = 1; i <= 30; i++) alice.events.receive(JSON.stringify({ type: 'send', to: 'bob', content: `m${i}` }))
  await eventually(() => ofType(alice.transport, 'error').length === 29)
  t.equal(alice.transport.closedWith, undefined, '29 refusals: still open')
  for (let i = 1; i <= 30; i++) alice.events.receive(JSON.stringify({ type: 'send', to: 'bob', content: `n${i}` }))
  await eventually(() => alice.transport.closedWith !== undefined)
  t.match(alice.transport.closedWith, { code: 4029, reason: 'rate_limit_ignored' })
})
