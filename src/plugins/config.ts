import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

/** Makes the validated configuration available to every plugin as fastify.config. */
async function configPlugin (fastify: FastifyInstance, opts: { config: Config }): Promise<void> {
  fastify.decorate('config', opts.config)
}

export default fp(configPlugin, { name: 'duolog-config', fastify: '5.x' })
