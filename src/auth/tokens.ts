import { createSigner, createVerifier } from 'fast-jwt'
import { Errors } from '../errors.js'
import { secretsEqual } from './passwords.js'

export type PrincipalKind = 'user' | 'service'

/** Who is calling: always taken from a verified token, never from the request body. */
export interface Principal {
  kind: PrincipalKind
  /** user id, or service client id */
  id: string
  /** token expiry, ms since the epoch */
  expiresAt: number
  /** the login session of a user token (services, and tokens of an identity provider, have none) */
  sessionId: string | null
}

/** Who may see what: a principal, or any caller named by kind and id. */
export type Viewer = Pick<Principal, 'kind' | 'id'>

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
  /**
   * Verifies signature, algorithm, iss, aud and exp, of duolog's own tokens and (when one is
   * configured) of the identity provider's; rejects with an `unauthorized` error otherwise.
   */
  verify (token: string): Promise<Principal>
  /** A user was deleted: an identity provider's token of theirs stops working here at once (elsewhere within 10 s). */
  forgetUser (userId: string): void
  /** Checks a service client's credentials in constant time. */
  serviceClientValid (clientId: string, clientSecret: string): boolean
}

export interface TokensOptions {
  secret: string
  accessTokenTtlSeconds: number
  clockToleranceSeconds: number
  /** clientId -> secret */
  serviceClients: ReadonlyMap<string, string>
  /** Whether a login session has ended (logout, revocation, refresh token reuse). */
  isRevoked: (sessionId: string) => boolean
  /** Tokens whose `iss` is the deployment's identity provider are verified by it instead. */
  identityProvider?: { issued: (token: string) => boolean, verify: (token: string) => Promise<Principal>, forget: (userId: string) => void } | undefined
}

/** Valid tokens whose claims are kept (about 0.5 KB each). */
const VERIFIED_TOKENS = 10_000

/** The `iss` of duolog's own tokens (an identity provider must use another). */
export const ISSUER = 'duolog'
const AUDIENCE = 'duolog'

/** Signs and verifies duolog's access tokens (HS256 JWTs). */
export function createTokens (options: TokensOptions): Tokens {
  const { serviceClients, accessTokenTtlSeconds } = options
  const signer = createSigner({ key: options.secret, algorithm: 'HS256', iss: ISSUER, aud: AUDIENCE, expiresIn: accessTokenTtlSeconds * 1000 })
  // The algorithm list is pinned: a token signed with anything else (or `none`) is rejected.
  const verifier = createVerifier({
    key: options.secret,
    algorithms: ['HS256'],
    allowedIss: ISSUER,
    allowedAud: AUDIENCE,
    clockTolerance: options.clockToleranceSeconds * 1000,
    // A token signed with the secret but without these is not one duolog issued.
    requiredClaims: ['iss', 'aud', 'sub', 'exp']
  })
  const toleranceMs = options.clockToleranceSeconds * 1000
  // The claims of the last VERIFIED_TOKENS valid tokens, until they expire: a client that
  // sends many requests with one token has its HMAC checked once. Keyed by the token itself
  // (it is in memory while its request is anyway); failures are not kept. Revocation is
  // still checked on every request.
  const verified = new Map<string, TokenClaims>()
  const claimsOf = (token: string): TokenClaims => {
    const known = verified.get(token)
    if (known?.exp !== undefined && Date.now() <= known.exp * 1000 + toleranceMs) return known
    verified.delete(token)
    const claims = verifier(token) as TokenClaims
    if (verified.size >= VERIFIED_TOKENS) verified.delete(verified.keys().next().value as string)
    verified.set(token, claims)
    return claims
  }
  const sign = (claims: TokenClaims): IssuedToken =>
    ({ accessToken: signer(claims), tokenType: 'Bearer', expiresIn: accessTokenTtlSeconds })

  return {
    issueService: (clientId) => sign({ sub: clientId, kind: 'service' }),
    issueUser: (userId, sessionId) => sign({ sub: userId, kind: 'user', sid: sessionId }),
    async verify (token) {
      const { identityProvider } = options
      if (identityProvider?.issued(token) === true) return await identityProvider.verify(token)
      let claims: TokenClaims
      try {
        claims = claimsOf(token)
      } catch (err) {
        const expired = (err as { code?: string }).code === 'FAST_JWT_EXPIRED'
        throw new Errors.Unauthorized(expired ? 'the token has expired' : 'the token is not valid')
      }
      if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') throw new Errors.Unauthorized('the token is not valid')
      if (claims.kind === 'service') {
        if (!serviceClients.has(claims.sub)) throw new Errors.Unauthorized('the service client is no longer configured')
        return { kind: 'service', id: claims.sub, expiresAt: claims.exp * 1000, sessionId: null }
      }
      if (claims.kind !== 'user' || typeof claims.sid !== 'string') throw new Errors.Unauthorized('the token is not valid')
      if (options.isRevoked(claims.sid)) throw new Errors.Unauthorized('the session has ended')
      return { kind: 'user', id: claims.sub, expiresAt: claims.exp * 1000, sessionId: claims.sid }
    },
    forgetUser (userId) {
      options.identityProvider?.forget(userId)
    },
    serviceClientValid (clientId, clientSecret) {
      const expected = serviceClients.get(clientId)
      // Compare against something even for an unknown id, so both cases take the same time.
      const ok = secretsEqual(clientSecret, expected ?? clientSecret + '\u0000')
      return expected !== undefined && ok
    }
  }
}

// Query parameters that look like a credential, whatever the route: refused, and never logged.
const CREDENTIAL_NAMES = '(?:access_?token|token|jwt|bearer|auth|authorization|api_?key)'
const CREDENTIAL_PARAM = new RegExp(`[?&]${CREDENTIAL_NAMES}=`, 'i')
const CREDENTIAL_VALUE = new RegExp(`([?&]${CREDENTIAL_NAMES}=)[^&#]*`, 'gi')

/** Whether a URL carries something that looks like a credential in its query. */
export const credentialInUrl = (url: string): boolean => CREDENTIAL_PARAM.test(url)

/** The URL with the values of credential-looking parameters replaced, for logs. */
export const redactCredentials = (url: string): string => url.replace(CREDENTIAL_VALUE, '$1[redacted]')

/** The bearer token of an Authorization header, or undefined when there is none. */
export function bearerToken (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (match === null) throw new Errors.Unauthorized('the Authorization header must be "Bearer <token>"')
  return match[1]
}
