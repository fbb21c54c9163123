import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import { CloseCodes } from '../relay/close-codes.js'

/**
 * The WebSocket server. Registered before every other hook, so that an upgrade request
 * refused by any hook (401, 400...) still has its socket closed after the HTTP answer.
 */
async function websocketPlugin (fastify: FastifyInstance): Promise<void> {
  await fastify.register(websocket, {
    // ws closes a connection whose frame is larger than this with 1009.
    options: { maxPayload: fastify.config.limits.maxFrameBytes },
    preClose (done) {
      // Every socket, authenticated or still waiting for its auth frame: reconnect elsewhere.
      for (const client of fastify.websocketServer.clients) client.close(CloseCodes.serverShutdown, 'server_shutdown')
      fastify.websocketServer.close(() => { done() })
    }
  })
}

export default fp(websocketPlugin, { name: 'duolog-websocket', dependencies: ['duolog-config'] })
