import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Store } from '../store/store.js'
import { SqliteStore } from '../store/sqlite.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
  }
}

/** Opens the message store (SQLite under DUOLOG_DATA_DIR) and closes it last. */
async function storePlugin (fastify: FastifyInstance): Promise<void> {
  const { config } = fastify
  const store = new SqliteStore({ dataDir: config.dataDir, synchronous: config.sqliteSynchronous })
  fastify.log.info({ store: store.kind, file: store.file, synchronous: config.sqliteSynchronous }, 'message store open')
  fastify.decorate('store', store)
  fastify.addHook('onClose', async () => { await store.close() })
}

export default fp(storePlugin, { name: 'duolog-store', dependencies: ['duolog-config'] })
