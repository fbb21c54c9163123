import t from 'tap'
import { Client, api, startServer, users } from '../helpers.js'
import { postgresUrl, schemaForTest } from '../services.js'

const url = postgresUrl()
if (url !== undefined) {
  t.test('the relay on PostgreSQL (DUOLOG_DATABASE_URL): send, resume, history, receipts', async (t) => {
    const schema = schemaForTest(t, url)
    const server = await startServer(t, { DUOLOG_DATABASE_URL: url, DUOLOG_DATABASE_SCHEMA: schema })
    t.equal(server.app.store.kind, 'postgres')
    const [alice, bob] = await users(server, 'alice', 'bob')
    const a = await Client.connect(server, alice)
    for (let i = 1; i <= 3; i++) a.send({ type: 'send', to: 'bob', content: `m${i}`, clientMsgId: `k${i}` })
    const sent = [await a.next('sent'), await a.next('sent'), await a.next('sent')]
    t.same(sent.map((f) => f.seq), [1, 2, 3])
    a.send({ type: 'send', to: 'bob', content: 'm1', clientMsgId: 'k1' })
    t.equal((await a.next('sent')).id, sent[0]?.id, 'a retry answers the original')

    const b = await Client.connect(server, bob, { after: 0 })
    t.same([(await b.next('message')).content, (await b.next('message')).content, (await b.next('message')).content], ['m1', 'm2', 'm3'])
    t.same(await b.next(), { type: 'synced', upTo: 3, more: false })
    b.send({ type: 'ack', upTo: 3 })
    t.match(await a.next('receipt'), { kind: 'delivered', upTo: sent[2]?.id })
    b.send({ type: 'read', peer: 'alice', upTo: sent[1]?.id })
    t.match(await a.next('receipt'), { kind: 'read', upTo: sent[1]?.id })
    t.match(await api(server, 'GET', '/v1/conversations', { token: bob }), { body: { conversations: [{ peer: 'alice', unread: 1 }] } })
    t.same((await api(server, 'GET', '/v1/conversations/alice/messages?limit=2', { token: bob })).body.messages.map((m: any) => m.content), ['m3', 'm2'])
    t.match(await api(server, 'GET', '/readyz'), { status: 200 })
  })
}
