import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Errors } from '../errors.js'
import { loadOrCreateSecret } from '../auth/secret.js'
import { Sessions } from '../auth/sessions.js'
import { bearerToken, createTokens, credentialInUrl, type Principal, type Tokens } from '../auth/tokens.js'
import { createIdentityProvider, type IdentityProvider } from '../auth/identity-provider.js'
import type { Store } from '../store/store.js'

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
    isRevoked: (sessionId) => sessions.isRevoked(sessionId),
    identityProvider: config.identityProvider === undefined
      ? undefined
      : identityProvider(config.identityProvider, config.clockToleranceSeconds, fastify.store)
  })

  fastify.decorate('tokens', tokens)
  fastify.decorate('sessions', sessions)
  fastify.decorateRequest('principal', null)
  fastify.decorate('authenticate', async function authenticate (request: FastifyRequest) {
    const token = bearerToken(request.headers.authorization)
    if (token === undefined) throw new Errors.Unauthorized('an Authorization: Bearer token is required')
    request.principal = await tokens.verify(token)
  })

  // Tokens in URLs end up in access logs and browser history: refuse them everywhere.
  fastify.addHook('onRequest', async (request) => {
    if (credentialInUrl(request.url)) throw new Errors.TokenInUrl()
  })
}

/** How long a user seen in an identity provider's token is known to exist without asking the store again. */
const KNOWN_USER_TTL_MS = 10_000
const MAX_KNOWN_USERS = 100_000

function identityProvider (settings: NonNullable<FastifyInstance['config']['identityProvider']>, clockToleranceSeconds: number,
  store: Pick<Store, 'getUser' | 'createUser'>): IdentityProvider {
  const known = new Map<string, number>()
  return createIdentityProvider({
    ...settings,
    clockToleranceSeconds,
    async ensureUser (userId, claims) {
      const now = Date.now()
      if ((known.get(userId) ?? 0) > now) return
      if (await store.getUser(userId) === undefined) {
        if (!settings.autocreate) throw new Errors.Unauthorized(`user "${userId}" does not exist (DUOLOG_JWT_AUTOCREATE=false: a service creates users)`)
        const displayName = typeof claims.name === 'string' && claims.name.trim() !== '' ? claims.name.trim().slice(0, 128) : userId
        const created = await store.createUser({ id: userId, displayName, passwordHash: null, createdAt: now })
        // Taken in another case ("Alice" beside "alice"), or the id of a deleted account: never reused.
        if (!created && await store.getUser(userId) === undefined) throw new Errors.Unauthorized(`user "${userId}" cannot be used: the id is taken or belonged to a deleted account`)
      }
      if (known.size >= MAX_KNOWN_USERS) known.clear()
      known.set(userId, now + KNOWN_USER_TTL_MS)
    },
    forgetUser (userId) {
      known.delete(userId)
    }
  })
}

export default fp(authPlugin, { name: 'duolog-auth', fastify: '5.x', dependencies: ['duolog-config', 'duolog-store', 'duolog-bus'] })
