import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorSchema, authErrors } from '../schemas/common.js'
import { DeliveryListQuerySchema, DeliveryListSchema, DeliveryParamsSchema, RetryResultSchema } from '../schemas/webhooks.js'
import { Errors } from '../errors.js'
import { requireService } from './guards.js'

const iso = (ms: number | null): string | null => ms === null ? null : new Date(ms).toISOString()

const webhooks: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store } = fastify
  // Every route here: a service token.
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('onRequest', requireService)

  fastify.get('/v1/webhooks/deliveries', {
    schema: {
      tags: ['webhooks'],
      summary: 'Recent webhook deliveries, newest first (services only)',
      description: '`?status=failed` lists the events whose last attempt failed: each is retried with backoff for 24 hours, or at once with POST .../retry.',
      security: [{ bearerAuth: [] }],
      querystring: DeliveryListQuerySchema,
      response: { 200: DeliveryListSchema, ...authErrors, 403: ErrorSchema }
    }
  }, async (request) => {
    const limit = request.query.limit ?? 50
    const page = await store.deliveries({ status: request.query.status, before: request.query.before, limit: limit + 1 })
    const more = page.length > limit
    const shown = more ? page.slice(0, limit) : page
    return {
      deliveries: shown.map((d) => ({
        id: d.uid,
        type: d.type,
        createdAt: new Date(d.createdAt).toISOString(),
        status: d.status,
        attempts: d.attempts,
        lastAttemptAt: iso(d.lastAttemptAt),
        lastStatus: d.lastStatus,
        lastError: d.lastError,
        nextAttemptAt: iso(d.nextAttemptAt)
      })),
      nextBefore: more ? (shown[shown.length - 1]?.cursor ?? null) : null
    }
  })

  fastify.post('/v1/webhooks/deliveries/:id/retry', {
    schema: {
      tags: ['webhooks'],
      summary: 'Try a pending or failed webhook event again now (services only)',
      description: 'A given-up event too. Its `webhook-id` stays the same. 409 for one already delivered or skipped.',
      security: [{ bearerAuth: [] }],
      params: DeliveryParamsSchema,
      response: { 202: RetryResultSchema, ...authErrors, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema }
    }
  }, async (request, reply) => {
    const { id } = request.params
    switch (await store.retryEvent(id, Date.now())) {
      case 'unknown': throw new Errors.UnknownWebhookEvent(id)
      case 'not_failed': throw new Errors.AlreadyDelivered(id)
      case 'scheduled': return reply.code(202).send({ id, status: 'scheduled' })
    }
  })
}

export default webhooks
