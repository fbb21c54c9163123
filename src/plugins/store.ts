import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Store } from '../store/store.js'
import { SqliteStore } from '../store/sqlite.js'
import { PostgresStore } from '../store/postgres.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
  }
}

/**
 * Opens the message store and closes it last: PostgreSQL when DUOLOG_DATABASE_URL is set,
 * else the embedded SQLite file under DUOLOG_DATA_DIR.
 */
async function storePlugin (fastify: FastifyInstance): Promise<void> {
  const { config } = fastify
  let store: Store
  if (config.databaseUrl !== undefined) {
    store = await PostgresStore.open({ url: config.databaseUrl, schema: config.databaseSchema, log: fastify.log, outbox: config.webhooks })
    fastify.log.info({ store: store.kind, schema: config.databaseSchema }, 'message store open')
  } else {
    const sqlite = new SqliteStore({ dataDir: config.dataDir, synchronous: config.sqliteSynchronous, log: fastify.log, outbox: config.webhooks, observer: fastify.metrics.sqliteObserver() })
    fastify.metrics.observeUnindexed(() => sqlite.unindexed)
    fastify.log.info({ store: sqlite.kind, file: sqlite.file, synchronous: config.sqliteSynchronous }, 'message store open')
    store = sqlite
  }
  fastify.decorate('store', store)
  fastify.addHook('onClose', async () => { await store.close() })
}

export default fp(storePlugin, { name: 'duolog-store', fastify: '5.x', dependencies: ['duolog-config', 'duolog-metrics'] })
