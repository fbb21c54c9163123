import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { CreateUserSchema, DeleteUserSchema, UpdateUserSchema, UserParamsSchema, UserSchema } from '../schemas/users.js'
import { TokenSchema } from '../schemas/auth.js'
import { ErrorSchema, authErrors } from '../schemas/common.js'
import { Errors } from '../errors.js'
import { hashPassword, verifyPassword } from '../auth/passwords.js'
import { LoginThrottle } from '../auth/login-throttle.js'
import { rateLimited } from '../errors.js'
import { principalOf, requireService, selfOrService } from './guards.js'
import type { FastifyRequest } from 'fastify'
import { bearerToken, type Principal } from '../auth/tokens.js'
import { Disconnect } from '../relay/disconnect.js'
import { Type } from '@sinclair/typebox'

const users: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, tokens, sessions, relay } = fastify
  // A stolen token must not become a way to guess the password: failures slow down as logins do.
  const guesses = new LoginThrottle()
  const checkPassword = async (user: { id: string, passwordHash: string | null }, given: string | undefined, field: string): Promise<void> => {
    if (user.passwordHash === null) throw new Errors.Forbidden('this account has no password: a service manages it')
    if (given === undefined) throw new Errors.InvalidRequest(`${field} is required`)
    const wait = guesses.waitMs(user.id)
    if (wait > 0) throw rateLimited(wait)
    if (!await verifyPassword(given, user.passwordHash)) {
      guesses.failed(user.id)
      throw new Errors.InvalidCredentials()
    }
    guesses.succeeded(user.id)
  }
  /** The caller of a request whose token is valid; undefined otherwise (the route answers that). */
  const callerOf = async (request: FastifyRequest): Promise<Principal | undefined> => {
    try {
      const token = bearerToken(request.headers.authorization)
      return token === undefined ? undefined : await tokens.verify(token)
    } catch {
      return undefined
    }
  }

  fastify.post('/v1/users', {
    // Anonymous sign-ups are limited per address; a backend creating users with its service
    // token has a limit of its own (DUOLOG_SERVICE_RATE_LIMIT), not the anonymous one.
    config: {
      rateLimit: {
        timeWindow: 60_000,
        keyGenerator: async (request: FastifyRequest) => {
          const caller = await callerOf(request)
          return caller?.kind === 'service' ? `service:${caller.id}` : request.ip
        },
        max: (_request: FastifyRequest, key: string) => key.startsWith('service:') ? config.serviceRateLimit : config.authRateLimit
      }
    },
    schema: {
      tags: ['identity'],
      summary: 'Create a user',
      description: 'Open sign-up unless DUOLOG_SIGNUP=service. A service token may create a user without a password (that user gets tokens through the service only).',
      security: [{}, { bearerAuth: [] }],
      body: CreateUserSchema,
      response: { 201: UserSchema, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema }
    }
  }, async (request, reply) => {
    // Authentication is optional here: a service token unlocks password-less users.
    if (request.headers.authorization !== undefined) await fastify.authenticate(request)
    const byService = request.principal?.kind === 'service'
    if (!byService && config.signup === 'service') throw new Errors.SignupClosed()
    const { id, password, displayName } = request.body
    if (!byService && password === undefined) throw new Errors.InvalidRequest('password is required')
    const createdAt = Date.now()
    const passwordHash = password === undefined ? null : await hashPassword(password)
    const created = await store.createUser({ id, displayName: displayName ?? id, passwordHash, createdAt })
    if (!created) throw new Errors.UserExists(id)
    return reply.code(201).send({ id, displayName: displayName ?? id, createdAt: new Date(createdAt).toISOString() })
  })

  await fastify.register(async (group) => {
    const callers = group.withTypeProvider<TypeBoxTypeProvider>()
    callers.addHook('onRequest', callers.authenticate)

    callers.get('/v1/users/:id', {
      schema: {
        tags: ['identity'],
        summary: 'Read a user account (the user themself, or a service)',
        security: [{ bearerAuth: [] }],
        params: UserParamsSchema,
        response: { 200: UserSchema, ...authErrors, 403: ErrorSchema, 404: ErrorSchema }
      }
    }, async (request) => {
      const { id } = request.params
      selfOrService(principalOf(request), id)
      const user = await store.getUser(id)
      if (user === undefined) throw new Errors.UnknownUser(id)
      return { id: user.id, displayName: user.displayName, createdAt: new Date(user.createdAt).toISOString() }
    })

    callers.patch('/v1/users/:id', {
      schema: {
        tags: ['identity'],
        summary: 'Change a user\'s display name or password (the user themself, or a service)',
        description: 'A user changing their password gives the current one; every other session of the user then ends (their sockets close with 4509), ' +
          'the caller\'s stays. A service may set a password without the current one (a reset): then every session ends.',
        security: [{ bearerAuth: [] }],
        params: UserParamsSchema,
        body: UpdateUserSchema,
        response: { 200: UserSchema, ...authErrors, 403: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema }
      }
    }, async (request) => {
      const caller = principalOf(request)
      const { id } = request.params
      selfOrService(caller, id)
      const { displayName, password, currentPassword } = request.body
      if (displayName === undefined && password === undefined) throw new Errors.InvalidRequest('nothing to change: give displayName or password')
      const user = await store.getUser(id)
      if (user === undefined) throw new Errors.UnknownUser(id)
      if (password !== undefined && caller.kind === 'user') await checkPassword(user, currentPassword, 'currentPassword')
      const passwordHash = password === undefined ? undefined : await hashPassword(password)
      if (!await store.updateUser(id, { displayName, passwordHash })) throw new Errors.UnknownUser(id)
      if (passwordHash !== undefined) {
        const ended = await sessions.revokeUser(id, caller.sessionId ?? undefined)
        for (const sessionId of ended) relay.hub.endSession(id, sessionId, Disconnect.passwordChanged)
      }
      return { id, displayName: displayName ?? user.displayName, createdAt: new Date(user.createdAt).toISOString() }
    })

    callers.delete('/v1/users/:id', {
      schema: {
        tags: ['identity'],
        summary: 'Delete a user account (the user themself with their password, or a service)',
        description: 'Ends every session and socket (close 4507), erases the account and the content of every message it sent (its peers keep ' +
          'those entries, without content), and sends the `user.deleted` webhook. The id is never given to anyone again.',
        security: [{ bearerAuth: [] }],
        params: UserParamsSchema,
        body: DeleteUserSchema,
        response: { 204: Type.Null(), ...authErrors, 403: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema }
      },
      // A service sends no body at all: that is an empty one.
      preValidation: async (request) => { request.body ??= {} }
    }, async (request, reply) => {
      const caller = principalOf(request)
      const { id } = request.params
      selfOrService(caller, id)
      const user = await store.getUser(id)
      if (user === undefined) throw new Errors.UnknownUser(id)
      if (caller.kind === 'user') await checkPassword(user, request.body.password, 'password')
      // Sessions first, so that every instance learns of it (the deletion revokes any started meanwhile).
      await sessions.revokeUser(id)
      if (!await store.deleteUser(id, Date.now())) throw new Errors.UnknownUser(id)
      tokens.forgetUser(id)
      relay.hub.endUser(id, Disconnect.userDeleted)
      return await reply.code(204).send(null)
    })
  })

  await fastify.register(async (group) => {
    const services = group.withTypeProvider<TypeBoxTypeProvider>()
    services.addHook('onRequest', services.authenticate)
    services.addHook('onRequest', requireService)

    services.post('/v1/users/:id/tokens', {
      schema: {
        tags: ['identity'],
        summary: 'Mint an access token for a user (services only)',
        description: 'For backends that keep their own login: the token acts as the user on every route and on the WebSocket.',
        security: [{ bearerAuth: [] }],
        params: UserParamsSchema,
        response: { 200: TokenSchema, ...authErrors, 403: ErrorSchema, 404: ErrorSchema }
      }
    }, async (request) => {
      const user = await store.getUser(request.params.id)
      if (user === undefined) throw new Errors.UnknownUser(request.params.id)
      const { sessionId } = await sessions.start(user.id, false)
      return tokens.issueUser(user.id, sessionId)
    })

    services.delete('/v1/users/:id/sessions', {
      schema: {
        tags: ['identity'],
        summary: 'End every session of a user (services only)',
        description: 'All of the user\'s access and refresh tokens stop working, and all of their WebSocket connections close with 4504 (do not retry).',
        security: [{ bearerAuth: [] }],
        params: UserParamsSchema,
        response: { 200: Type.Object({ revoked: Type.Integer({ description: 'Sessions ended.' }) }), ...authErrors, 403: ErrorSchema, 404: ErrorSchema }
      }
    }, async (request) => {
      const { id } = request.params
      if (await store.getUser(id) === undefined) throw new Errors.UnknownUser(id)
      const revoked = await sessions.revokeUser(id)
      relay.hub.endUser(id, Disconnect.sessionsRevoked)
      return { revoked: revoked.length }
    })
  })
}

export default users
