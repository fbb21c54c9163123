import type { FastifyRequest } from 'fastify'
import { Errors, PublicFailure } from '../errors.js'
import type { Principal } from '../auth/tokens.js'

/** onRequest hooks that run after fastify.authenticate. */

export async function requireService (request: FastifyRequest): Promise<void> {
  if (request.principal?.kind !== 'service') throw new Errors.Forbidden('this route is for service clients')
}

export async function requireUser (request: FastifyRequest): Promise<void> {
  if (request.principal?.kind !== 'user') throw new Errors.Forbidden('this route needs a user token')
}

/** A user's own account, which a service may also act on; other users get 403. */
export function selfOrService (caller: Principal, userId: string): void {
  if (caller.kind === 'user' && caller.id !== userId) throw new Errors.Forbidden('a user may act on their own account only')
}

/** The principal set by fastify.authenticate (the hook guarantees it). */
export function principalOf (request: FastifyRequest): Principal {
  if (request.principal === null) throw new Errors.Unauthorized('an Authorization: Bearer token is required')
  return request.principal
}

/**
 * A refusal over a rate (sending, reading) is answered after its wait (at most 1 s), so that
 * a client hammering in a loop gets few answers, each of which costs the server, and no
 * faster than it could have retried. Other errors pass at once.
 */
export async function slowRefusal (err: unknown): Promise<never> {
  const wait = err instanceof PublicFailure ? err.retryAfterMs : undefined
  if (wait !== undefined) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 1000)))
  throw err
}
