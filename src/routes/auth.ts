import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { LoginSchema, RefreshSchema, ServiceTokenRequestSchema, SessionTokenSchema, TokenSchema } from '../schemas/auth.js'
import { ErrorSchema, authErrors } from '../schemas/common.js'
import { Errors, rateLimited } from '../errors.js'
import { LoginThrottle } from '../auth/login-throttle.js'
import { hashPassword, verifyPassword } from '../auth/passwords.js'
import { Disconnect } from '../relay/disconnect.js'
import { principalOf, requireUser } from './guards.js'

const auth: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, tokens, sessions, relay } = fastify
  const rateLimit = { max: config.authRateLimit, timeWindow: 60_000 }
  // An unknown id (or a password-less user) is checked against this hash, so that every
  // failed login does the same work and takes the same time: no user enumeration.
  const decoyHash = await hashPassword('decoy password that matches nothing')
  // Guessing one account's password from many addresses: each address's limit is not enough.
  const logins = new LoginThrottle()

  fastify.post('/v1/auth/login', {
    config: { rateLimit },
    schema: {
      tags: ['identity'],
      summary: 'Log in as a user',
      body: LoginSchema,
      response: { 200: SessionTokenSchema, 400: ErrorSchema, 401: ErrorSchema, 429: ErrorSchema }
    }
  }, async (request) => {
    const { id, password } = request.body
    // Waiting or not, the answer is the same for an id that does not exist.
    const wait = logins.waitMs(id)
    if (wait > 0) {
      fastify.metrics.limited('login')
      throw rateLimited(wait)
    }
    const user = await store.getUser(id)
    const ok = await verifyPassword(password, user?.passwordHash ?? decoyHash)
    if (!ok || user === undefined || user.passwordHash === null) {
      logins.failed(id)
      request.log.info({ account: id }, 'login failed')
      throw new Errors.InvalidCredentials()
    }
    logins.succeeded(id)
    const session = await sessions.start(user.id, true)
    return { ...tokens.issueUser(user.id, session.sessionId), refreshToken: session.refreshToken as string, refreshExpiresIn: config.refreshTokenTtlSeconds }
  })

  fastify.post('/v1/auth/token', {
    config: { rateLimit },
    schema: {
      tags: ['identity'],
      summary: 'Get a service access token',
      description: 'Service clients are configured with DUOLOG_SERVICE_CLIENTS.',
      body: ServiceTokenRequestSchema,
      response: { 200: TokenSchema, 400: ErrorSchema, 401: ErrorSchema, 429: ErrorSchema }
    }
  }, async (request) => {
    const { clientId, clientSecret } = request.body
    if (!tokens.serviceClientValid(clientId, clientSecret)) throw new Errors.Unauthorized('invalid client id or secret')
    return tokens.issueService(clientId)
  })

  fastify.post('/v1/auth/refresh', {
    config: { rateLimit },
    schema: {
      tags: ['identity'],
      summary: 'Trade a refresh token for a new access and refresh token',
      description: 'The refresh token is single use. Presenting one that was already used ends its whole session (it was stolen, or a client raced itself): every token of that login stops working and its sockets are closed.',
      body: RefreshSchema,
      response: { 200: SessionTokenSchema, 400: ErrorSchema, 401: ErrorSchema, 429: ErrorSchema }
    }
  }, async (request) => {
    const result = await sessions.refresh(request.body.refreshToken)
    if (result.status === 'reused') {
      relay.hub.endSession(result.session.userId, result.session.id, Disconnect.sessionRevoked)
      throw new Errors.Unauthorized('this refresh token was already used: the session is ended')
    }
    if (result.status === 'invalid') throw new Errors.Unauthorized('the refresh token is not valid')
    return { ...tokens.issueUser(result.session.userId, result.session.id), refreshToken: result.refreshToken, refreshExpiresIn: config.refreshTokenTtlSeconds }
  })

  await fastify.register(async (users) => {
    users.addHook('onRequest', users.authenticate)
    users.addHook('onRequest', requireUser)

    users.post('/v1/auth/logout', {
      schema: {
        tags: ['identity'],
        summary: 'End the caller\'s session',
        description: 'Its access and refresh tokens stop working, and its WebSocket connections close with 4503 (do not retry).',
        security: [{ bearerAuth: [] }],
        response: { 204: Type.Null({ description: 'Logged out.' }), ...authErrors, 403: ErrorSchema }
      }
    }, async (request, reply) => {
      const principal = principalOf(request)
      await sessions.revoke(principal.sessionId as string)
      relay.hub.endSession(principal.id, principal.sessionId as string, Disconnect.loggedOut)
      return reply.code(204).send(null)
    })
  })
}

export default auth
