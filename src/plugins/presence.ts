import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { PresenceStore } from '../presence/store.js'
import { MemoryPresence } from '../presence/memory.js'
import { RedisPresence } from '../presence/redis.js'

declare module 'fastify' {
  interface FastifyInstance {
    presenceStore: PresenceStore
  }
}

/** Who is online: in Redis (shared by the instances) when DUOLOG_REDIS_URL is set, else in memory. */
async function presencePlugin (fastify: FastifyInstance): Promise<void> {
  const { config, bus } = fastify
  const store: PresenceStore = config.redisUrl !== undefined
    ? new RedisPresence({ url: config.redisUrl, prefix: config.redisPrefix, log: fastify.log })
    : new MemoryPresence((channel, payload) => { void bus.publish(channel, payload) })
  fastify.decorate('presenceStore', store)
  fastify.addHook('onClose', async () => { await store.close() })
}

export default fp(presencePlugin, { name: 'duolog-presence', fastify: '5.x', dependencies: ['duolog-config', 'duolog-bus'] })
