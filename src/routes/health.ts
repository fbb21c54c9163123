import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ErrorSchema } from '../schemas/common.js'
import { Errors } from '../errors.js'

const StatusSchema = Type.Object({ status: Type.String() })

const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/healthz', {
    schema: { tags: ['health'], summary: 'The process is alive', response: { 200: StatusSchema } }
  }, async () => ({ status: 'ok' }))

  fastify.get('/readyz', {
    schema: {
      tags: ['health'],
      summary: 'The message store commits a write, and the server is not shutting down',
      description: '503 `not_ready` while the store cannot write: unreachable, a full disk, SQLite files deleted or replaced, a read-only PostgreSQL. ' +
        'On SIGTERM it answers 503 `shutting_down` for DUOLOG_DRAIN_MS while everything else is still served, so that a load balancer moves traffic away before the server closes.',
      response: { 200: StatusSchema, 503: ErrorSchema }
    }
  }, async (request) => {
    if (fastify.lifecycle.draining || fastify.lifecycle.closing) throw new Errors.ShuttingDown()
    try {
      await fastify.store.ping()
      return { status: 'ready' }
    } catch (err) {
      request.log.warn({ err }, 'readiness check failed')
      throw new Errors.NotReady()
    }
  })
}

export default health
