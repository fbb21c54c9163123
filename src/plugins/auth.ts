import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Errors } from '../errors.js'
import { loadOrCreateSecret } from '../auth/secret.js'
import { secretsEqual } from '../auth/passwords.js'
import { Sessions } from '../auth/sessions.js'

export type PrincipalKind = 'user' | 'service'

/** Who is calling: always taken from a verified token, never from the request body. */
export interface Principal {
  kind: PrincipalKind
  /** user id, or service client id */
  id: string
  /** token expiry, ms since the epoch */
  expiresAt: number
  /** the login session of a user token (services have none) */
  sessionId: string | null
}

export interface TokenClaims {
  sub: string
  kind: PrincipalKind
  /** session id: every user token has one */
  sid?: string
  exp?: number
}

export interface IssuedToken {
  accessToken: string
  tokenType: 'Bearer'
  expiresIn: number
}

export interface Tokens {
  issueService (clientId: string): IssuedToken
  issueUser (userId: string, sessionId: string): IssuedToken
  /** Verifies signature, algorithm, iss, aud and exp; throws an `unauthorized` error otherwise. */
  verify (token: string): Principal
  /** Checks a service client's credentials in constant time. */
  serviceClientValid (clientId: string, clientSecret: string): boolean
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: TokenClaims
    user: TokenClaims
  }
}

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

const ISSUER = 'duolog'
const AUDIENCE = 'duolog'
const TOKEN_IN_URL = /[?&](access_?token|token|jwt|bearer)=/i

/** The bearer token of an Authorization header, or undefined when there is none. */
export function bearerToken (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (match === null) throw new Errors.Unauthorized('the Authorization header must be "Bearer <token>"')
  return match[1]
}

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

  await fastify.register(jwt, {
    secret,
    sign: { algorithm: 'HS256', iss: ISSUER, aud: AUDIENCE, expiresIn: `${config.accessTokenTtlSeconds}s` },
    // The algorithm list is pinned: a token signed with anything else (or `none`) is rejected.
    verify: { algorithms: ['HS256'], allowedIss: ISSUER, allowedAud: AUDIENCE, clockTolerance: config.clockToleranceSeconds * 1000 }
  })

  const sessions = new Sessions(fastify.store, fastify.bus, config.accessTokenTtlSeconds * 1000, config.refreshTokenTtlSeconds * 1000)
  await sessions.load()

  const sign = (claims: TokenClaims): IssuedToken =>
    ({ accessToken: fastify.jwt.sign(claims), tokenType: 'Bearer', expiresIn: config.accessTokenTtlSeconds })

  const tokens: Tokens = {
    issueService: (clientId) => sign({ sub: clientId, kind: 'service' }),
    issueUser: (userId, sessionId) => sign({ sub: userId, kind: 'user', sid: sessionId }),
    verify (token) {
      let claims: TokenClaims
      try {
        claims = fastify.jwt.verify<TokenClaims>(token)
      } catch (err) {
        const expired = (err as { code?: string }).code === 'FAST_JWT_EXPIRED'
        throw new Errors.Unauthorized(expired ? 'the token has expired' : 'the token is not valid')
      }
      if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw new Errors.Unauthorized('the token is not valid')
      if (claims.kind === 'service') {
        if (!config.serviceClients.has(claims.sub)) throw new Errors.Unauthorized('the service client is no longer configured')
        return { kind: 'service', id: claims.sub, expiresAt: claims.exp * 1000, sessionId: null }
      }
      if (claims.kind !== 'user' || typeof claims.sid !== 'string') throw new Errors.Unauthorized('the token is not valid')
      if (sessions.isRevoked(claims.sid)) throw new Errors.Unauthorized('the session has ended')
      return { kind: 'user', id: claims.sub, expiresAt: claims.exp * 1000, sessionId: claims.sid }
    },
    serviceClientValid (clientId, clientSecret) {
      const expected = config.serviceClients.get(clientId)
      // Compare against something even for an unknown id, so both cases take the same time.
      const ok = secretsEqual(clientSecret, expected ?? clientSecret + '\u0000')
      return expected !== undefined && ok
    }
  }

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
    if (TOKEN_IN_URL.test(request.url)) throw new Errors.TokenInUrl()
  })
}

export default fp(authPlugin, { name: 'duolog-auth', dependencies: ['duolog-config', 'duolog-store', 'duolog-bus'] })
