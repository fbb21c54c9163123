import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Bus } from '../bus/bus.js'
import { MemoryBus } from '../bus/memory.js'
import { RedisBus } from '../bus/redis.js'

declare module 'fastify' {
  interface FastifyInstance {
    bus: Bus
  }
}

/** Cross-instance fan-out: Redis pub/sub when DUOLOG_REDIS_URL is set, else in-process. */
async function busPlugin (fastify: FastifyInstance): Promise<void> {
  const { config } = fastify
  let bus: Bus
  if (config.redisUrl !== undefined) {
    const redis = new RedisBus({ url: config.redisUrl, prefix: config.redisPrefix, log: fastify.log, failed: (operation) => { fastify.metrics.busError(operation) } })
    // Not awaited: with Redis down, duolog still starts and stores sends; fan-out between
    // instances resumes when Redis answers (the connections retry by themselves).
    redis.ready().then(() => { fastify.log.info('redis bus connected') }, (err: unknown) => { fastify.log.warn({ err }, 'redis bus not ready') })
    bus = redis
  } else {
    bus = new MemoryBus()
  }
  fastify.log.info({ bus: bus.kind }, 'bus ready')
  fastify.decorate('bus', bus)
  fastify.addHook('onClose', async () => { await bus.close() })
}

export default fp(busPlugin, { name: 'duolog-bus', fastify: '5.x', dependencies: ['duolog-config', 'duolog-metrics'] })
