import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import { Disconnect } from '../relay/disconnect.js'

/**
 * How long a client gets to answer the server's close frame at shutdown. ws alone waits 30 s
 * for a client that stopped reading (a frozen tab, a lost network). Cutting it off loses
 * nothing: its messages are stored, and it reconnects whether it read the close frame or not.
 */
const CLOSE_ANSWER_MS = 2000

/**
 * The WebSocket server. Registered before every hook that can refuse a request (the app's
 * 503 while closing, auth, rate limits), so that a refused upgrade request (401, 400, 503...)
 * still has its socket closed after the HTTP answer.
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
      const cutOff = setTimeout(() => {
        for (const client of fastify.websocketServer.clients) client.terminate()
      }, CLOSE_ANSWER_MS)
      fastify.websocketServer.close(() => { clearTimeout(cutOff); done() })
    }
  })
}

export default fp(websocketPlugin, { name: 'duolog-websocket', fastify: '5.x', dependencies: ['duolog-config'] })
