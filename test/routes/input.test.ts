import t, { type Test } from 'tap'
import { Client, api, rawHttp, serviceToken, sleep, startServer, users, type TestServer } from '../helpers.js'
import { postgresUrl, schemaForTest } from '../services.js'

// Input a store cannot keep as sent is refused up front (400), on every store, and never
// fails the other messages of its batch.

const stores: Array<[string, (t: Test) => Promise<TestServer>]> = [['SQLite', async (t) => await startServer(t)]]
const url = postgresUrl()
if (url !== undefined) stores.push(['PostgreSQL', async (t) => await startServer(t, { DUOLOG_DATABASE_URL: url, DUOLOG_DATABASE_SCHEMA: schemaForTest(t, url) })])

for (const [name, start] of stores) {
  t.test(`${name}: U+0000 and lone surrogates are refused with 400, and the rest of the batch is stored`, async (t) => {
    const server = await start(t)
    const [alice, bob] = await users(server, 'alice', 'bob')
    const a = await Client.connect(server, alice)
    // One turn of the event loop: the bad ones would share the good ones' commit.
    a.send({ type: 'send', to: 'bob', content: 'before', clientMsgId: 'ok-1' })
    a.send({ type: 'send', to: 'bob', content: 'nul \u0000 inside', clientMsgId: 'nul' })
    a.ws.send('{"type":"send","to":"bob","content":"A\\ud800B","clientMsgId":"lone"}')
    a.send({ type: 'send', to: 'bob', content: 'after', clientMsgId: 'ok-2' })
    const answers = [await a.next(), await a.next(), await a.next(), await a.next()]
    t.same(answers.filter((f) => f.type === 'sent').map((f) => f.clientMsgId), ['ok-1', 'ok-2'], 'the good ones are stored')
    t.match(answers.filter((f) => f.type === 'error'), [{ code: 'invalid_request', ref: 'nul' }, { code: 'invalid_request', ref: 'lone' }])

    const http = await api(server, 'POST', '/v1/messages', { token: alice, rawBody: '{"to":"bob","content":"x\\udc00y","clientMsgId":"lone-http"}' })
    t.match(http, { status: 400, body: { error: { code: 'invalid_request' } } })
    t.match(await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'ok', clientMsgId: 'bad\u0000id' } }), { status: 400 }, 'in clientMsgId too')
    t.match(await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', content: 'a pair 😀 is fine' } }), { status: 201 })
    const page = await api(server, 'GET', '/v1/sync?after=0', { token: bob })
    t.same(page.body.messages.map((m: { content: string }) => m.content), ['before', 'after', 'a pair 😀 is fine'])
  })

  t.test(`${name}: integers beyond what the store keeps are refused with 400`, async (t) => {
    const server = await start(t)
    const [alice] = await users(server, 'alice', 'bob')
    for (const path of [
      '/v1/conversations/bob/messages?before=99999999999999999999',
      '/v1/conversations/bob/messages?after=9007199254740993',
      '/v1/sync?after=99999999999999999999',
      '/v1/conversations?before=99999999999999999999',
      '/v1/conversations/bob/messages?limit=99999999999999999999'
    ]) {
      t.match(await api(server, 'GET', path, { token: alice }), { status: 400, body: { error: { code: 'invalid_request' } } }, path)
    }
    const a = await Client.connect(server, alice)
    a.ws.send('{"type":"sync","after":99999999999999999999}')
    t.match(await a.next('error'), { code: 'invalid_frame' })
  })
}

t.test('a body in any media type but JSON gets 415 unsupported_media_type, text/plain included', async (t) => {
  const server = await startServer(t)
  const [alice] = await users(server, 'alice', 'bob')
  for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'application/xml']) {
    const res = await fetch(`${server.url}/v1/messages`, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${alice}` }, body: '{"to":"bob","content":"x"}' })
    t.equal(res.status, 415, type)
    t.match(await res.json(), { error: { code: 'unsupported_media_type' } })
  }
})

t.test('the user ids "." and ".." are refused', async (t) => {
  const server = await startServer(t)
  const service = await serviceToken(server)
  for (const id of ['.', '..']) {
    t.match(await api(server, 'POST', '/v1/users', { token: service, body: { id } }), { status: 400, body: { error: { code: 'invalid_request' } } }, `"${id}"`)
  }
  t.match(await api(server, 'POST', '/v1/users', { token: service, body: { id: '...' } }), { status: 201 }, 'dots with nothing special about them are fine')
  t.match(await api(server, 'POST', '/v1/users', { token: service, body: { id: '.a' } }), { status: 201 })
})

t.test('an unknown field in a body is refused with a 400 that names it (as the documents say: additionalProperties false)', async (t) => {
  const server = await startServer(t)
  const [alice] = await users(server, 'alice', 'bob') as [string, string]
  const typo = await api(server, 'POST', '/v1/messages', { token: alice, body: { to: 'bob', contnet: 'a typo', content: 'x' } })
  t.match(typo, { status: 400, body: { error: { code: 'invalid_request', message: 'body/contnet is not a known field' } } })
  const login = await api(server, 'POST', '/v1/auth/login', { body: { id: 'alice', password: 'x', remember: true } })
  t.match(login, { status: 400, body: { error: { message: 'body/remember is not a known field' } } })
  const stored = await api(server, 'GET', '/v1/sync?after=0', { token: alice })
  t.equal(stored.body.messages.length, 0, 'nothing was stored')
})

t.test('a malformed HTTP request, or headers too large, get an error with a code; the process answers on', async (t) => {
  const server = await startServer(t)
  const garbage = await rawHttp(server.url)
  garbage.socket.write('GARBAGE\r\n\r\n')
  await garbage.ended
  t.match(garbage.answer(), /^HTTP\/1\.1 400 /)
  t.match(garbage.answer(), /\{"error":\{"code":"invalid_request","message":"malformed HTTP request: [^"]+"\}\}$/)
  const huge = await rawHttp(server.url)
  huge.socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`)
  await huge.ended
  t.match(huge.answer(), /^HTTP\/1\.1 431 /)
  t.match(huge.answer(), /"code":"headers_too_large"/)
  t.equal((await api(server, 'GET', '/healthz')).status, 200)
})

t.test('a client that stalls halfway through a request gets 408 request_timeout and its connection closed; open WebSockets outlive the timeout', async (t) => {
  const server = await startServer(t, { DUOLOG_REQUEST_TIMEOUT_MS: '400' })
  const [alice, bob] = await users(server, 'alice', 'bob')
  const socket = await Client.connect(server, alice)
  // Slowloris: headers, then a body that never comes in full.
  const stalled = await rawHttp(server.url)
  stalled.socket.write('POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id":')
  const headersOnly = await rawHttp(server.url)
  headersOnly.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
  const started = Date.now()
  await Promise.all([stalled.ended, headersOnly.ended])
  t.ok(Date.now() - started < 3000, `both cut off after ${Date.now() - started} ms`)
  t.match(stalled.answer(), /^HTTP\/1\.1 408 /)
  t.match(stalled.answer(), /"code":"request_timeout"/)
  t.match(headersOnly.answer(), /^HTTP\/1\.1 408 /)
  // Well past the timeout, the WebSocket (a request long finished) still works both ways.
  await sleep(1200)
  socket.send({ type: 'send', to: 'bob', content: 'still here', clientMsgId: 'c1' })
  t.match(await socket.next('sent'), { clientMsgId: 'c1' })
  t.equal((await api(server, 'GET', '/v1/sync', { token: bob })).status, 200)
})
