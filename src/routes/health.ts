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
    schema: { tags: ['health'], summary: 'The message store answers', response: { 200: StatusSchema, 503: ErrorSchema } }
  }, async (request) => {
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
