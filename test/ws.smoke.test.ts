import t from 'tap'
import { Client, startServer, users } from './helpers.js'

t.test('send and receive', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  const b = await Client.connect(server, bob)
  a.send({ type: 'send', to: 'bob', content: 'hi', clientMsgId: 'c1' })
  const sent = await a.next('sent')
  const got = await b.next('message')
  t.equal(got.content, 'hi')
  t.equal(sent.seq, 1)
  await a.close(); await b.close()
})
