import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import { ErrorSchema } from '../schemas/common.js'
import { Errors, rateLimited } from '../errors.js'
import { bearerToken } from '../auth/tokens.js'
import { attachWebSocket } from '../relay/ws-transport.js'
import { slowRefusal } from './guards.js'

const WsQuerySchema = Type.Object({
  after: Type.Optional(Type.Integer({
    minimum: 0,
    description: 'Resume: replay the stream after this seq (as a first sync) before going live. Without it, the connection is live from lastSeq.'
  }))
})
type WsQuery = Static<typeof WsQuerySchema>

const ws: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: 'GET',
    url: '/v1/ws',
    schema: {
      tags: ['websocket'],
      summary: 'The WebSocket relay (protocol: docs/protocol.md)',
      description: 'With DUOLOG_ALLOWED_ORIGINS set, an upgrade whose `Origin` header is not listed gets 403 `origin_not_allowed`. ' +
        'Upgrade with `Authorization: Bearer <token>` (checked before the upgrade: 401 if bad), ' +
        'or upgrade without it and send `{"type":"auth","token":"...","after"?:seq}` as the first frame. Tokens in the URL are refused.',
      security: [{}, { bearerAuth: [] }],
      querystring: WsQuerySchema,
      response: { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 426: ErrorSchema, 429: ErrorSchema }
    },
    // Runs before the upgrade, so a foreign origin or a bad token is a plain HTTP 403 / 401 and no socket is opened.
    preValidation: async (request) => {
      const { allowedOrigins } = fastify.config
      const origin = request.headers.origin
      if (allowedOrigins !== undefined && origin !== undefined && !allowedOrigins.includes(origin.toLowerCase())) {
        throw new Errors.OriginNotAllowed(origin)
      }
      const token = bearerToken(request.headers.authorization)
      if (token === undefined) return
      const principal = await fastify.tokens.verify(token)
      if (principal.kind !== 'user') throw new Errors.Forbidden('the WebSocket is for users; services use the REST API')
      const barred = fastify.relay.cooldowns.remaining(principal.id)
      if (barred > 0) await slowRefusal(rateLimited(barred))
      request.principal = principal
    },
    handler: async (request, reply) => {
      void reply.header('upgrade', 'websocket')
      throw new Errors.UpgradeRequired()
    },
    wsHandler: (socket, request) => {
      attachWebSocket(socket, (transport) => fastify.relay.accept(transport, request.principal, (request.query as WsQuery).after))
    }
  })
}

export default ws
