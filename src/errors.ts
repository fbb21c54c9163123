import createError from '@fastify/error'

/**
 * Every error a client can see. The code is the public, snake_case `error.code`
 * of an HTTP error body and of a WebSocket `error` frame; the status is used over HTTP.
 */
export const Errors = {
  InvalidRequest: createError('invalid_request', '%s', 400),
  InvalidFrame: createError('invalid_frame', '%s', 400),
  UnknownType: createError('unknown_type', 'unknown frame type "%s"', 400),
  ContentTooLong: createError('content_too_long', 'content is longer than %s characters', 400),
  InvalidRecipient: createError('invalid_recipient', '%s', 400),
  InvalidCursor: createError('invalid_cursor', '%s', 400),
  TokenInUrl: createError('token_in_url', 'tokens are never accepted in the URL; send an Authorization header or an auth frame', 400),
  Unauthorized: createError('unauthorized', '%s', 401),
  InvalidCredentials: createError('invalid_credentials', 'invalid id or password', 401),
  Forbidden: createError('forbidden', '%s', 403),
  SignupClosed: createError('signup_closed', 'sign-up is open to service clients only', 403),
  NotFound: createError('not_found', '%s', 404),
  UnknownRecipient: createError('unknown_recipient', 'user "%s" does not exist', 404),
  UserExists: createError('user_exists', 'user "%s" already exists', 409),
  IdempotencyConflict: createError('idempotency_conflict', 'clientMsgId "%s" was already used for a different message', 409),
  SyncInProgress: createError('sync_in_progress', 'a sync is already running on this connection', 409),
  TooManyWatches: createError('too_many_watches', 'a connection watches at most %s users', 400),
  RateLimited: createError('rate_limited', 'too many requests, retry in %s', 429),
  StoreUnavailable: createError('store_unavailable', 'the message store is unavailable', 503),
  PresenceUnavailable: createError('presence_unavailable', 'presence is unavailable for now (its Redis does not answer)', 503)
} as const

export interface PublicError {
  code: string
  message: string
  statusCode: number
}

const PUBLIC_CODES = new Set<string>(Object.values(Errors).map((E) => new E().code))

/** Maps anything thrown to what a client may see; unknown errors become a bland 500. */
export function toPublicError (err: unknown): PublicError {
  const e = err as { code?: unknown, message?: unknown, statusCode?: unknown, validation?: unknown }
  const statusCode = typeof e.statusCode === 'number' ? e.statusCode : 500
  const message = typeof e.message === 'string' ? e.message : 'error'
  // @fastify/error upper-cases codes; the public ones are snake_case.
  if (typeof e.code === 'string' && PUBLIC_CODES.has(e.code)) return { code: e.code.toLowerCase(), message, statusCode }
  if (e.validation !== undefined) return { code: 'invalid_request', message, statusCode: 400 }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return { code: 'payload_too_large', message, statusCode: 413 }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return { code: 'unsupported_media_type', message, statusCode: 415 }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { code: 'invalid_json', message, statusCode: 400 }
    case 'FST_JWT_NO_AUTHORIZATION_IN_HEADER':
    case 'FST_JWT_AUTHORIZATION_TOKEN_INVALID':
    case 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED':
    case 'FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED':
    case 'FST_JWT_BAD_REQUEST':
    case 'FST_JWT_BAD_COOKIE_REQUEST':
      return { code: 'unauthorized', message, statusCode: 401 }
  }
  if (statusCode >= 400 && statusCode < 500) return { code: 'invalid_request', message, statusCode }
  return { code: 'internal_error', message: 'internal error', statusCode: 500 }
}
