import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { WebhookSender } from '../webhooks/sender.js'

/**
 * The webhook sender (src/webhooks/sender.ts), when DUOLOG_WEBHOOK_URL is set: it starts once
 * the app is ready and stops before the store closes. The events themselves are written by
 * the store (configured with the same settings in plugins/store.ts).
 */
async function webhooksPlugin (fastify: FastifyInstance): Promise<void> {
  const settings = fastify.config.webhooks
  if (settings === undefined) return
  const sender = new WebhookSender({
    url: settings.url,
    secret: settings.secret,
    outbox: fastify.store,
    log: fastify.log,
    attempted: (result) => { fastify.metrics.webhookAttempts.inc({ result }) }
  })
  fastify.addHook('onReady', async () => { sender.start() })
  // onClose hooks run in reverse order of registration: this one before the store's.
  fastify.addHook('onClose', async () => { await sender.stop() })
}

export default fp(webhooksPlugin, { name: 'duolog-webhooks', fastify: '5.x', dependencies: ['duolog-config', 'duolog-store', 'duolog-metrics'] })
