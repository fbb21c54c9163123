import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { bearerToken } from '../auth/tokens.js'
import { Errors } from '../errors.js'
import { ErrorSchema } from '../schemas/common.js'

/** Equal in constant time whatever the lengths (both sides hashed first). */
function sameSecret (given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(given), digest(expected))
}

/** Prometheus' scrape endpoint, on the main port behind its own bearer token; absent (404) without one. */
const metricsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const expected = fastify.config.metricsToken
  if (expected === undefined) return
  fastify.get('/metrics', {
    schema: {
      tags: ['health'],
      summary: 'Prometheus metrics of this instance (DUOLOG_METRICS_TOKEN)',
      description: 'Text exposition format. Needs `Authorization: Bearer <DUOLOG_METRICS_TOKEN>`; without that setting the route does not exist (404).',
      security: [{ metricsToken: [] }],
      response: { 200: Type.String({ description: 'Prometheus text format 0.0.4' }), 401: ErrorSchema }
    }
  }, async (request, reply) => {
    const given = bearerToken(request.headers.authorization)
    if (given === undefined || !sameSecret(given, expected)) throw new Errors.Unauthorized('/metrics needs Authorization: Bearer <DUOLOG_METRICS_TOKEN>')
    void reply.type(fastify.metrics.registry.contentType)
    return await fastify.metrics.registry.metrics()
  })
}

export default metricsRoutes
