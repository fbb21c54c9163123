// The floor for POST /v1/messages: a bare Fastify route with the same body and response
// schemas and the same logger as duolog (pino at DUOLOG_LOG_LEVEL, a line per request),
// answering 201 with a made-up message. No auth, no storage, no delivery.
import Fastify from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { SendMessageSchema, SentMessageSchema } from '../src/schemas/messages.js'

const app = Fastify({ logger: { level: process.env.DUOLOG_LOG_LEVEL ?? 'info' } }).withTypeProvider<TypeBoxTypeProvider>()
let id = 0
app.post('/v1/messages', { schema: { body: SendMessageSchema, response: { 201: SentMessageSchema } } }, async (request, reply) => {
  id++
  return await reply.code(201).send({ id, seq: id, from: 'u0', to: request.body.to, createdAt: new Date().toISOString(), clientMsgId: request.body.clientMsgId })
})
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
