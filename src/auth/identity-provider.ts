import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose'
import { Errors } from '../errors.js'
import { USER_ID_PATTERN } from '../schemas/common.js'
import type { Principal } from './tokens.js'

/** The asymmetric algorithms accepted from an identity provider: never `none`, never an HMAC. */
export const IDP_ALGORITHMS = ['RS256', 'ES256', 'EdDSA']

/** The shortest time between two fetches of the key set. */
export const JWKS_COOLDOWN_MS = 2000

const USER_ID = new RegExp(USER_ID_PATTERN)

export interface IdentityProviderOptions {
  jwksUrl: string
  issuer: string
  audience: string
  clockToleranceSeconds: number
  /**
   * Resolves once the token's user exists (created on first sight when the deployment allows
   * it); rejects with a public error otherwise.
   */
  ensureUser: (userId: string, claims: JWTPayload) => Promise<void>
  /** Drops what ensureUser remembers of a user (deleted). */
  forgetUser: (userId: string) => void
}

/** Verifies user access tokens signed by the deployment's own identity provider (its JWKS). */
export interface IdentityProvider {
  /** Whether the token claims to come from this provider (its `iss`, read unverified). */
  issued (token: string): boolean
  verify (token: string): Promise<Principal>
  /** A user was deleted: their tokens are refused from now on. */
  forget (userId: string): void
}

export function createIdentityProvider (options: IdentityProviderOptions): IdentityProvider {
  // jose caches the key set for 10 minutes, fetches it again on a `kid` it does not know (a
  // rotation; at most every 2 s, so tokens with made-up kids cannot hammer the provider), and
  // gives up on a fetch after 5 s.
  const keys = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5000, cooldownDuration: JWKS_COOLDOWN_MS, cacheMaxAge: 10 * 60_000 })
  return {
    issued (token) {
      try {
        return decodeJwt(token).iss === options.issuer
      } catch {
        return false
      }
    },
    forget (userId) {
      options.forgetUser(userId)
    },
    async verify (token) {
      let claims: JWTPayload
      try {
        ({ payload: claims } = await jwtVerify(token, keys, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: IDP_ALGORITHMS,
          clockTolerance: options.clockToleranceSeconds,
          requiredClaims: ['sub', 'exp']
        }))
      } catch (err) {
        throw translate(err)
      }
      const sub = claims.sub as string
      if (!USER_ID.test(sub)) throw new Errors.Unauthorized('the token\'s sub is not a valid duolog user id (1 to 64 of A-Z a-z 0-9 _ . -, not . or ..)')
      await options.ensureUser(sub, claims)
      return { kind: 'user', id: sub, expiresAt: (claims.exp as number) * 1000, sessionId: null }
    }
  }
}

/** jose's errors as duolog's: a bad token is 401, a provider that cannot be reached is 503. */
function translate (err: unknown): Error {
  if (err instanceof joseErrors.JWTExpired) return new Errors.Unauthorized('the token has expired')
  if (err instanceof joseErrors.JWKSTimeout || (err instanceof joseErrors.JOSEError && err.code === 'ERR_JWKS_INVALID') ||
    (err instanceof Error && !(err instanceof joseErrors.JOSEError))) {
    return new Errors.IdentityProviderUnavailable()
  }
  return new Errors.Unauthorized('the token is not valid')
}
