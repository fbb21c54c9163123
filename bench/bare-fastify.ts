// The floor for POST /v1/messages: a bare Fastify route with the same body and response
// schemas and the same logging as duolog (pino at DUOLOG_LOG_LEVEL, one line per request),
// answering 201 with a made-up message. No auth, no storage, no delivery.
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { SendMessageSchema, SentMessageSchema } from '../src/schemas/messages.js'

// BARE_LOGGER=0: no logger at all (Fastify's default), for comparison.
const logged = process.env.BARE_LOGGER !== '0'
// duolog's access log: one line per request, when answered (src/app.ts, OneLinePerRequest).
class OneLinePerRequest extends LogController {
  override incomingRequest (): void {}
  override requestCompleted (_error: unknown, request: FastifyRequest, reply: FastifyReply): void {
    reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}
const app = Fastify({ logger: logged ? { level: process.env.DUOLOG_LOG_LEVEL ?? 'info' } : false, logController: new OneLinePerRequest() }).withTypeProvider<TypeBoxTypeProvider>()
let id = 0
app.post('/v1/messages', { schema: { body: SendMessageSchema, response: { 201: SentMessageSchema } } }, async (request, reply) => {
  id++
  return await reply.code(201).send({ id, seq: id, from: 'u0', to: request.body.to, createdAt: new Date().toISOString(), clientMsgId: request.body.clientMsgId })
})
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
