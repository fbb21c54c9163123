import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { SqliteObserver } from './store/sqlite.js'

/** Which limit refused a caller (`duolog_rate_limited_total{limit}`). */
export type LimitName = 'send' | 'read' | 'auth' | 'login' | 'connections'
/** What failed on the bus (`duolog_bus_errors_total{operation}`). */
export type BusOperation = 'publish' | 'receive' | 'connection'

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/**
 * What an operator sees of one instance, in Prometheus' terms. Each app has its own
 * registry (never prom-client's global one), so that several apps in one process (tests,
 * benchmarks) keep their counts apart. The domain reports through these fields; src/plugins
 * only exposes the registry.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly messagesStored = new Counter({ name: 'duolog_messages_stored_total', help: 'Messages stored (retries of a stored clientMsgId not counted)', registers: [this.registry] })
  readonly messagesDelivered = new Counter({ name: 'duolog_messages_delivered_total', help: 'Message frames sent to connected devices, live or replayed (one per device)', registers: [this.registry] })
  readonly sendToStore = new Histogram({ name: 'duolog_send_to_store_seconds', help: 'From a send being accepted to its batch committing', buckets: LATENCY_BUCKETS, registers: [this.registry] })
  readonly storeCommit = new Histogram({ name: 'duolog_store_commit_seconds', help: 'Time to commit one batch of sends', buckets: LATENCY_BUCKETS, registers: [this.registry] })
  readonly batchSize = new Histogram({ name: 'duolog_store_batch_messages', help: 'Sends per commit batch', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [this.registry] })
  readonly busErrors = new Counter({ name: 'duolog_bus_errors_total', help: 'Bus failures: a publish that failed, a payload a listener could not handle, a connection error', labelNames: ['operation'], registers: [this.registry] })
  readonly webhookAttempts = new Counter({ name: 'duolog_webhook_attempts_total', help: 'Webhook attempts by result: delivered, failed (retried later or given up), skipped (message.undelivered for a message acknowledged in time)', labelNames: ['result'], registers: [this.registry] })
  readonly rateLimited = new Counter({ name: 'duolog_rate_limited_total', help: 'Requests, frames and connections refused by a limit', labelNames: ['limit'], registers: [this.registry] })

  busError (operation: BusOperation): void {
    this.busErrors.inc({ operation })
  }

  limited (limit: LimitName): void {
    this.rateLimited.inc({ limit })
  }

  /** Gauges read when scraped: the instance's open connections and the users they belong to. */
  observeConnections (connections: () => number, users: () => number): void {
    const registers = [this.registry]
    // eslint-disable-next-line no-new
    new Gauge({ name: 'duolog_connections', help: 'Open authenticated WebSocket connections on this instance', registers, collect () { this.set(connections()) } })
    // eslint-disable-next-line no-new
    new Gauge({ name: 'duolog_users_online', help: 'Users with at least one connection on this instance', registers, collect () { this.set(users()) } })
  }

  /**
   * The embedded store's work beside the sends (registered only for an instance on SQLite):
   * what can still delay a send (index slices on the event loop, writes held while the WAL
   * starts over) and the checkpoints that keep the WAL from growing.
   */
  sqliteObserver (): SqliteObserver {
    const registers = [this.registry]
    const pages = new Counter({ name: 'duolog_sqlite_checkpoint_pages_total', help: 'WAL frames (pages) copied into the database file by checkpoints', registers })
    const held = new Histogram({ name: 'duolog_sqlite_write_hold_seconds', help: 'How long sends waited while a checkpoint started the WAL over', buckets: LATENCY_BUCKETS, registers })
    const indexed = new Histogram({ name: 'duolog_sqlite_index_slice_seconds', help: 'How long one slice of an index run held the event loop', buckets: LATENCY_BUCKETS, registers })
    return {
      checkpointed: (count) => { pages.inc(count) },
      writesHeld: (seconds) => { held.observe(seconds) },
      indexed: (seconds) => { indexed.observe(seconds) }
    }
  }

  /** A gauge read when scraped: the messages the embedded store has not indexed yet. */
  observeUnindexed (unindexed: () => number): void {
    // eslint-disable-next-line no-new
    new Gauge({ name: 'duolog_sqlite_unindexed_messages', help: 'Messages stored but not yet written to the index tables', registers: [this.registry], collect () { this.set(unindexed()) } })
  }

  /** Process metrics (CPU, memory, handles, GC) and event-loop delay: only for an app that is scraped. */
  collectProcessMetrics (): void {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 })
  }
}
