import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorSchema } from '../schemas/common.js'
import { Errors } from '../errors.js'
import { bearerToken } from '../plugins/auth.js'

const ws: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: 'GET',
    url: '/v1/ws',
    schema: {
      tags: ['websocket'],
      summary: 'The WebSocket relay (protocol: docs/protocol.md)',
      description: 'Upgrade with `Authorization: Bearer <token>` (checked before the upgrade: 401 if bad), ' +
        'or upgrade without it and send `{"type":"auth","token":"..."}` as the first frame. Tokens in the URL are refused.',
      security: [{}, { bearerAuth: [] }],
      response: { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 426: ErrorSchema }
    },
    // Runs before the upgrade, so a bad token is a plain HTTP 401 and no socket is opened.
    preValidation: async (request) => {
      const token = bearerToken(request.headers.authorization)
      if (token === undefined) return
      const principal = fastify.tokens.verify(token)
      if (principal.kind !== 'user') throw new Errors.Forbidden('the WebSocket is for users; services use the REST API')
      request.principal = principal
    },
    handler: async (request, reply) => {
      return reply.code(426).header('upgrade', 'websocket').send({ error: { code: 'upgrade_required', message: 'this route speaks WebSocket' } })
    },
    wsHandler: (socket, request) => {
      fastify.relay.accept(socket, request.principal)
    }
  })
}

export default ws
