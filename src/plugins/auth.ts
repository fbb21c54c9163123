import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Errors } from '../errors.js'
import { loadOrCreateSecret } from '../auth/secret.js'
import { Sessions } from '../auth/sessions.js'
import { bearerToken, createTokens, credentialInUrl, type Principal, type Tokens } from '../auth/tokens.js'

declare module 'fastify' {
  interface FastifyInstance {
    tokens: Tokens
    sessions: Sessions
    /** onRequest hook: requires a valid bearer token and sets request.principal. */
    authenticate (request: FastifyRequest): Promise<void>
  }
  interface FastifyRequest {
    principal: Principal | null
  }
}

/** Login sessions and tokens (src/auth), and the hooks that authenticate requests with them. */
async function authPlugin (fastify: FastifyInstance): Promise<void> {
  const { config } = fastify
  let secret = config.jwtSecret
  if (secret === undefined) {
    const generated = loadOrCreateSecret(config.dataDir)
    secret = generated.secret
    fastify.log.warn({ file: generated.file }, generated.created
      ? 'no DUOLOG_JWT_SECRET set: generated a JWT secret and saved it in the data directory'
      : 'no DUOLOG_JWT_SECRET set: using the JWT secret saved in the data directory')
  }

  const sessions = new Sessions(fastify.store, fastify.bus, fastify.log, config.accessTokenTtlSeconds * 1000,
    config.refreshTokenTtlSeconds * 1000, config.limits.revocationCheckMs)
  await sessions.load()
  fastify.addHook('onClose', async () => { sessions.close() })
  const tokens = createTokens({
    secret,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    clockToleranceSeconds: config.clockToleranceSeconds,
    serviceClients: config.serviceClients,
    isRevoked: (sessionId) => sessions.isRevoked(sessionId)
  })

  fastify.decorate('tokens', tokens)
  fastify.decorate('sessions', sessions)
  fastify.decorateRequest('principal', null)
  fastify.decorate('authenticate', async function authenticate (request: FastifyRequest) {
    const token = bearerToken(request.headers.authorization)
    if (token === undefined) throw new Errors.Unauthorized('an Authorization: Bearer token is required')
    request.principal = tokens.verify(token)
  })

  // Tokens in URLs end up in access logs and browser history: refuse them everywhere.
  fastify.addHook('onRequest', async (request) => {
    if (credentialInUrl(request.url)) throw new Errors.TokenInUrl()
  })
}

export default fp(authPlugin, { name: 'duolog-auth', fastify: '5.x', dependencies: ['duolog-config', 'duolog-store', 'duolog-bus'] })
