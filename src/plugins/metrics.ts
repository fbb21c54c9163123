import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Metrics } from '../metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** This instance's Prometheus metrics (src/metrics.ts); scraped at /metrics when DUOLOG_METRICS_TOKEN is set. */
    metrics: Metrics
  }
}

async function metricsPlugin (fastify: FastifyInstance): Promise<void> {
  const metrics = new Metrics()
  // Process metrics start timers (event-loop delay): only for an instance that is scraped.
  if (fastify.config.metricsToken !== undefined) metrics.collectProcessMetrics()
  fastify.decorate('metrics', metrics)
}

export default fp(metricsPlugin, { name: 'duolog-metrics', fastify: '5.x', dependencies: ['duolog-config'] })
