import t from 'tap'
import { Client, api, startServer, users, type Frame } from '../helpers.js'

function seqs (frames: Frame[]): number[] {
  return frames.filter((f) => f.type === 'message' || f.type === 'sent').map((f) => f.seq)
}

function dense (from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

t.test('a recipient that is offline gets its messages when it comes back', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  for (let i = 1; i <= 3; i++) {
    a.send({ type: 'send', to: 'bob', content: `while you were out ${i}`, clientMsgId: `o${i}` })
    await a.next('sent')
  }
  const b = await Client.connect(server, bob)
  t.match(b.frames[0], { type: 'ready', lastSeq: 3, ackedSeq: 0 })
  b.send({ type: 'sync', after: 0 })
  const got = [await b.next('message'), await b.next('message'), await b.next('message')]
  t.same(got.map((m) => m.content), ['while you were out 1', 'while you were out 2', 'while you were out 3'])
  t.same(await b.next(), { type: 'synced', upTo: 3, more: false })
  b.send({ type: 'ack', upTo: 3 })
  a.send({ type: 'send', to: 'bob', content: 'now live' })
  t.match(await b.next('message'), { seq: 4, content: 'now live' })
})

t.test('every device of both users gets every message, in order', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const phone = await Client.connect(server, alice)
  const laptop = await Client.connect(server, alice)
  const bobPhone = await Client.connect(server, bob)
  const bobLaptop = await Client.connect(server, bob)

  phone.send({ type: 'send', to: 'bob', content: 'from the phone', clientMsgId: 'p1' })
  const sent = await phone.next('sent')
  const mirrored = await laptop.next('message')
  t.same(mirrored, { type: 'message', id: sent.id, seq: sent.seq, from: 'alice', to: 'bob', content: 'from the phone', createdAt: sent.createdAt, clientMsgId: 'p1' },
    'the sender\'s other device sees its own message with the sender\'s seq')
  t.equal((await bobPhone.next('message')).id, sent.id)
  t.equal((await bobLaptop.next('message')).id, sent.id)

  await api(server, 'POST', '/v1/messages', { token: bob, body: { to: 'alice', content: 'over http' } })
  for (const device of [phone, laptop]) t.match(await device.next('message'), { seq: 2, content: 'over http' })
  for (const device of [bobPhone, bobLaptop]) t.match(await device.next('message'), { seq: 2, content: 'over http' }, 'an HTTP sender\'s devices see it too')
})

t.test('a device that disconnects mid-stream resyncs with no gap and no duplicate', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const b = await Client.connect(server, bob)
  const received: number[] = []
  let a = await Client.connect(server, alice)
  const total = 60
  const progress = { sending: true }
  const sender = (async () => {
    for (let i = 1; i <= total; i++) {
      const res = await api(server, 'POST', '/v1/messages', { token: bob, body: { to: 'alice', content: `n${i}`, clientMsgId: `n${i}` } })
      t.equal(res.status, 201)
    }
    progress.sending = false
  })()
  // Read some, drop the connection without warning, reconnect, resume from the last seq seen.
  for (let round = 0; round < 3 || progress.sending; round++) {
    for (let k = 0; k < 5; k++) {
      const frame = await a.next(undefined, 5000).catch(() => null)
      if (frame === null) break
      if (frame.type === 'message') received.push(frame.seq)
    }
    a.ws.terminate()
    await a.closed
    // Resume at connect (alternately by URL and by auth frame): the backlog comes before anything live.
    a = await Client.connect(server, alice, { after: received.at(-1) ?? 0, via: round % 2 === 0 ? 'header' : 'frame' })
    for (;;) {
      const frame = await a.next()
      if (frame.type === 'synced') break
      if (frame.type === 'message') received.push(frame.seq)
    }
  }
  await sender
  for (const frame of await a.drain(200)) if (frame.type === 'message') received.push(frame.seq)
  t.same(received, dense(1, total), 'every seq exactly once, in order')
  await b.close()
})

t.test('resuming at connect replays first and then goes live; a bad resume point is an error', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  for (let i = 1; i <= 3; i++) await api(server, 'POST', '/v1/messages', { token: bob, body: { to: 'alice', content: `m${i}` } })
  const a = await Client.connect(server, alice, { after: 1 })
  t.same([(await a.next('message')).seq, (await a.next('message')).seq], [2, 3])
  t.same(await a.next(), { type: 'synced', upTo: 3, more: false })
  const bad = await Client.connect(server, alice, { after: 10, via: 'frame' })
  t.match(await bad.next('error'), { code: 'invalid_cursor' })
  await api(server, 'POST', '/v1/messages', { token: bob, body: { to: 'alice', content: 'm4' } })
  t.match(await bad.next('message'), { seq: 4 }, 'live from lastSeq after a refused resume')
  t.match(await a.next('message'), { seq: 4 })
  const res = await fetch(server.url + '/v1/ws?after=-1', { headers: { authorization: `Bearer ${alice}` } })
  t.equal(res.status, 400, 'a malformed after is refused before the upgrade')
})

t.test('live messages during a sync are neither lost nor duplicated nor reordered', async (t) => {
  const server = await startServer(t)
  const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol')
  const b = await Client.connect(server, bob)
  const c = await Client.connect(server, carol)
  for (let i = 0; i < 300; i++) b.send({ type: 'send', to: 'alice', content: `backlog ${i}` })
  for (let i = 0; i < 300; i++) await b.next('sent')
  const a = await Client.connect(server, alice)
  // Both peers keep sending while alice syncs the backlog in pages.
  for (let i = 0; i < 200; i++) {
    b.send({ type: 'send', to: 'alice', content: `live b ${i}` })
    c.send({ type: 'send', to: 'alice', content: `live c ${i}` })
  }
  let after = 0
  for (;;) {
    a.send({ type: 'sync', after, limit: 50 })
    let synced: Frame
    for (;;) {
      synced = await a.next()
      if (synced.type === 'synced') break
    }
    after = synced.upTo
    if (synced.more === false) break
  }
  await b.drain(50)
  const frames = [...a.frames, ...(await a.drain(200))]
  const entries = frames.filter((f) => f.type === 'message')
  const seen = new Set<number>()
  const ordered: number[] = []
  for (const f of entries) if (!seen.has(f.seq)) { seen.add(f.seq); ordered.push(f.seq) }
  t.same(ordered, dense(1, 700), 'every seq arrives, first time in order')
  // After the last synced frame, no seq repeats or goes back.
  const lastSynced = frames.map((f) => f.type).lastIndexOf('synced')
  const tail = seqs(frames.slice(lastSynced + 1))
  t.same(tail, dense(after + 1, 700), 'live frames after the sync continue densely from upTo')
})

t.test('a sender\'s sent frames and incoming messages share one ordered stream', async (t) => {
  const server = await startServer(t)
  const [alice, bob] = await users(server, 'alice', 'bob')
  const a = await Client.connect(server, alice)
  const b = await Client.connect(server, bob)
  for (let i = 0; i < 100; i++) {
    a.send({ type: 'send', to: 'bob', content: `a${i}` })
    b.send({ type: 'send', to: 'alice', content: `b${i}` })
  }
  const aFrames: Frame[] = []
  const bFrames: Frame[] = []
  while (aFrames.length < 200) aFrames.push(await a.next())
  while (bFrames.length < 200) bFrames.push(await b.next())
  t.same(seqs(aFrames), dense(1, 200), 'alice sees seq 1..200 once each, in order')
  t.same(seqs(bFrames), dense(1, 200), 'bob sees seq 1..200 once each, in order')
})

t.test('a burst from many clients is stored and delivered without loss', async (t) => {
  const server = await startServer(t)
  const ids = Array.from({ length: 20 }, (_, i) => `u${i}`)
  const tokens = await users(server, ...ids)
  const clients = await Promise.all(tokens.map((token) => Client.connect(server, token)))
  clients.forEach((client, i) => {
    for (let k = 0; k < 25; k++) client.send({ type: 'send', to: ids[(i + 1) % ids.length], content: `k${k}` })
  })
  for (const client of clients) {
    const frames: Frame[] = []
    while (frames.length < 50) frames.push(await client.next())
    t.same(seqs(frames).sort((x, y) => x - y), dense(1, 50))
    t.same(seqs(frames), dense(1, 50), 'in order')
  }
})
