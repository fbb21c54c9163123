import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import { Relay } from '../relay/relay.js'
import { CloseCodes } from '../relay/close-codes.js'

declare module 'fastify' {
  interface FastifyInstance {
    relay: Relay
  }
}

/** The WebSocket server and the relay (registry, delivery, heartbeats) shared by all routes. */
async function relayPlugin (fastify: FastifyInstance): Promise<void> {
  const relay = new Relay(fastify.config, fastify.store, fastify.tokens, fastify.log)
  fastify.decorate('relay', relay)

  await fastify.register(websocket, {
    // ws closes a connection whose frame is larger than this with 1009.
    options: { maxPayload: fastify.config.limits.maxFrameBytes },
    preClose (done) {
      relay.close()
      // Sockets still waiting for their auth frame get the same "reconnect" answer.
      for (const client of fastify.websocketServer.clients) client.close(CloseCodes.serverShutdown, 'server_shutdown')
      fastify.websocketServer.close(() => { done() })
    }
  })
}

export default fp(relayPlugin, { name: 'duolog-relay', dependencies: ['duolog-config', 'duolog-store', 'duolog-auth'] })
