import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Disconnect } from '../relay/disconnect.js'
import { createRelayServices, type RelayServices } from '../relay/services.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The relay and its features (src/relay/services.ts). */
    relay: RelayServices
  }
}

/** Constructs the relay of this instance and decorates the app with it. */
async function relayPlugin (fastify: FastifyInstance): Promise<void> {
  const { config, store, bus, presenceStore, tokens, metrics, log } = fastify
  const relay = createRelayServices({ config, store, bus, presenceStore, tokens, metrics, log })
  fastify.decorate('relay', relay)
  // A session ended on another instance while the bus could not say so: close its sockets here.
  fastify.sessions.onMissed((sessionIds) => { relay.hub.closeSessions(sessionIds, Disconnect.sessionEnded) })
  // preClose: before the WebSocket server closes the sockets, stop heartbeats and leases.
  fastify.addHook('preClose', async () => { relay.close() })
}

export default fp(relayPlugin, {
  name: 'duolog-relay',
  fastify: '5.x',
  dependencies: ['duolog-config', 'duolog-metrics', 'duolog-store', 'duolog-auth', 'duolog-websocket', 'duolog-bus', 'duolog-presence']
})
