import type { FastifyRequest } from 'fastify'
import { Errors } from '../errors.js'
import type { Principal } from '../auth/tokens.js'

/** onRequest hooks that run after fastify.authenticate. */

export async function requireService (request: FastifyRequest): Promise<void> {
  if (request.principal?.kind !== 'service') throw new Errors.Forbidden('this route is for service clients')
}

export async function requireUser (request: FastifyRequest): Promise<void> {
  if (request.principal?.kind !== 'user') throw new Errors.Forbidden('this route needs a user token')
}

/** The principal set by fastify.authenticate (the hook guarantees it). */
export function principalOf (request: FastifyRequest): Principal {
  if (request.principal === null) throw new Errors.Unauthorized('an Authorization: Bearer token is required')
  return request.principal
}
