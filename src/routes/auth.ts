import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { LoginSchema, ServiceTokenRequestSchema, TokenSchema } from '../schemas/auth.js'
import { ErrorSchema } from '../schemas/common.js'
import { Errors } from '../errors.js'
import { hashPassword, verifyPassword } from '../auth/passwords.js'

const auth: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, tokens } = fastify
  const rateLimit = { max: config.authRateLimit, timeWindow: 60_000 }
  // An unknown id (or a password-less user) is checked against this hash, so that every
  // failed login does the same work and takes the same time: no user enumeration.
  const decoyHash = await hashPassword('decoy password that matches nothing')

  fastify.post('/v1/auth/login', {
    config: { rateLimit },
    schema: {
      tags: ['identity'],
      summary: 'Log in as a user',
      body: LoginSchema,
      response: { 200: TokenSchema, 400: ErrorSchema, 401: ErrorSchema, 429: ErrorSchema }
    }
  }, async (request) => {
    const { id, password } = request.body
    const user = await store.getUser(id)
    const ok = await verifyPassword(password, user?.passwordHash ?? decoyHash)
    if (!ok || user === undefined || user.passwordHash === null) throw new Errors.InvalidCredentials()
    return tokens.issue('user', user.id)
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
    return tokens.issue('service', clientId)
  })
}

export default auth
