import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Relay } from '../relay/relay.js'

declare module 'fastify' {
  interface FastifyInstance {
    relay: Relay
  }
}

/** The relay (registry, delivery, heartbeats, presence) shared by all routes. */
async function relayPlugin (fastify: FastifyInstance): Promise<void> {
  const relay = new Relay(fastify.config, fastify.store, fastify.tokens, fastify.log, fastify.bus, fastify.presenceStore)
  fastify.decorate('relay', relay)
  // preClose: before the WebSocket server closes the sockets, stop heartbeats.
  fastify.addHook('preClose', async () => { relay.close() })
}

export default fp(relayPlugin, { name: 'duolog-relay', dependencies: ['duolog-config', 'duolog-store', 'duolog-auth', 'duolog-websocket', 'duolog-bus', 'duolog-presence'] })
