import t, { type Test } from 'tap'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { WsTransport } from '../../src/relay/ws-transport.js'

// The corking transport over real sockets: frames sent in one synchronous run are held and
// written at its end (in pieces for a long run); every client gets all of its own, in order.

async function pairs (t: Test, count: number): Promise<Array<{ server: WsTransport, received: string[] }>> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await once(wss, 'listening')
  t.teardown(() => { for (const c of wss.clients) c.terminate(); wss.close() })
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`
  const result = []
  for (let i = 0; i < count; i++) {
    const accepted = once(wss, 'connection')
    const client = new WebSocket(url)
    const received: string[] = []
    client.on('message', (data) => { received.push(data.toString()) })
    await once(client, 'open')
    const [socket] = await accepted as [WebSocket]
    result.push({ server: new WsTransport(socket), received })
    t.teardown(() => { client.terminate() })
  }
  return result
}

async function until (check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

t.test('one run to several sockets, longer than one cork holds: every frame arrives, in order', async (t) => {
  const sockets = await pairs(t, 3)
  const frames = 200
  for (let i = 0; i < frames; i++) for (const [n, s] of sockets.entries()) s.server.send(`{"n":${n},"i":${i}}`)
  // The run's own frames are not counted as unread by the client (about 2.6 KB each; at most
  // the frame headers of the last cork's frames are left in the count).
  for (const s of sockets) t.ok(s.server.bufferedAmount < 100, `${s.server.bufferedAmount} bytes counted as unread`)
  await until(() => sockets.every((s) => s.received.length === frames))
  for (const [n, s] of sockets.entries()) t.same(s.received, Array.from({ length: frames }, (_, i) => `{"n":${n},"i":${i}}`), `socket ${n}`)
})

t.test('runs one after another, and a frame sent while the last run is written, all arrive', async (t) => {
  const [a, b] = await pairs(t, 2) as [{ server: WsTransport, received: string[] }, { server: WsTransport, received: string[] }]
  a.server.send('a1')
  // Sent from inside the tick that writes the run: it goes out with the next one.
  process.nextTick(() => { b.server.send('b1'); a.server.send('a2') })
  await new Promise((resolve) => setImmediate(resolve))
  a.server.send('a3')
  b.server.send('b2')
  await until(() => a.received.length === 3 && b.received.length === 2)
  t.same(a.received, ['a1', 'a2', 'a3'])
  t.same(b.received, ['b1', 'b2'])
})
