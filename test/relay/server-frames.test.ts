import t from 'tap'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { FormatRegistry, type TSchema } from '@sinclair/typebox'
import { ServerFrameSchemas } from '../../src/schemas/frames.js'
import { Client, type Frame, api, eventually, serviceToken, startServer, users } from '../helpers.js'

// The server frames' schemas (the SDK's types and the AsyncAPI document come from them) must
// describe what the server really sends: every type, seen on the wire, checked against its schema.

FormatRegistry.Set('date-time', (value) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value) && !Number.isNaN(Date.parse(value)))
const byType = new Map(ServerFrameSchemas.map((schema) => [(schema.properties.type as TSchema & { const: string }).const, TypeCompiler.Compile(schema as TSchema)]))

t.test('every frame the server sends matches its schema, and every schema is seen', async (t) => {
  const server = await startServer(t, { DUOLOG_PRESENCE_VISIBILITY: 'everyone' })
  const [alice, bob] = await users(server, 'alice', 'bob') as [string, string]
  const alice2 = (await api(server, 'POST', '/v1/users/alice/tokens', { token: await serviceToken(server) })).body.accessToken as string
  const a = await Client.connect(server, alice)
  const b = await Client.connect(server, bob)
  a.send({ type: 'watch', users: ['bob'] })
  a.send({ type: 'send', to: 'bob', content: 'hi', clientMsgId: 'c1' })
  a.send({ type: 'send', to: 'bob', content: 'no id' })
  b.send({ type: 'typing', to: 'alice', state: 'start' })
  await eventually(() => b.frames.filter((f) => f.type === 'message').length === 2)
  const last = b.frames.filter((f) => f.type === 'message').pop() as Frame
  b.send({ type: 'ack', upTo: last.seq })
  b.send({ type: 'read', peer: 'alice', upTo: last.id })
  a.send({ type: 'sync', after: 0 })
  a.send({ type: 'ping' })
  a.send({ type: 'auth', token: alice2 })
  a.send({ type: 'nonsense' })
  a.send({ type: 'edit', id: last.id, content: 'edited' })
  a.send({ type: 'delete', id: last.id })
  await eventually(() => ['synced', 'pong', 'authenticated', 'error', 'receipt', 'typing', 'presence', 'edited', 'deleted'].every((type) => a.frames.some((f) => f.type === type)))
  // A replay shows an edited and deleted message as it is now.
  const replay = await Client.connect(server, bob, { after: 0 })
  await eventually(() => replay.frames.some((f) => f.type === 'synced'))
  t.ok(replay.frames.some((f) => f.type === 'message' && f.deletedAt !== undefined && f.editedAt !== undefined))
  const seen = new Set<string>()
  for (const frame of [...a.frames, ...b.frames, ...replay.frames]) {
    const check = byType.get(frame.type)
    t.ok(check, `a schema for ${frame.type as string}`)
    if (check === undefined) continue
    seen.add(frame.type)
    if (!check.Check(frame)) t.fail(`${JSON.stringify(frame)}: ${[...check.Errors(frame)].map((e) => `${e.path} ${e.message}`).join('; ')}`)
  }
  t.same([...byType.keys()].filter((type) => !seen.has(type)), [], 'every schema was seen on the wire')
  a.close(); b.close(); replay.close()
})
