import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'

/** OpenAPI 3.1 generated from the route schemas: /openapi.json, and Swagger UI at /docs. */
async function openapiPlugin (fastify: FastifyInstance): Promise<void> {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'duolog',
        version: '0.1.0',
        description: 'One-to-one messaging relay. The WebSocket protocol is in docs/protocol.md. ' +
          'Errors are `{ "error": { "code", "message" } }`.'
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'DUOLOG_METRICS_TOKEN, for /metrics only' }
        }
      },
      tags: [
        { name: 'identity', description: 'Users, login and tokens' },
        { name: 'messages', description: 'Sending, history and sync' },
        { name: 'conversations', description: 'Conversation list, unread counts, read markers' },
        { name: 'presence' },
        { name: 'websocket' },
        { name: 'health' }
      ]
    }
  })
  await fastify.register(swaggerUi, { routePrefix: '/docs' })
  fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger())
}

export default fp(openapiPlugin, { name: 'duolog-openapi', fastify: '5.x' })
