import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import { Disconnect } from '../relay/disconnect.js'

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
      for (const client of fastify.websocketServer.clients) {
        client.close(Disconnect.serverShutdown.code, Disconnect.serverShutdown.reason)
        // A socket paused for its send rate must read the client's answer to the close.
        if (client.isPaused) client.resume()
      }
      fastify.websocketServer.close(() => { done() })
    }
  })
}

export default fp(websocketPlugin, { name: 'duolog-websocket', fastify: '5.x', dependencies: ['duolog-config'] })
