import { maxHeaderSize } from 'node:http'

/** An error a client may see: its public code, its HTTP status and a message for humans. */
export class PublicFailure extends Error {
  /** For a refusal that passes: how long the client should wait before trying again. */
  retryAfterMs: number | undefined

  constructor (readonly code: string, readonly statusCode: number, message: string) {
    super(message)
  }
}

/** A kind of public error: `template`'s `%s` are filled with the constructor's arguments, in order. */
function createError (code: string, template: string, statusCode: number) {
  return class extends PublicFailure {
    constructor (...args: Array<string | number | null | undefined>) {
      let i = 0
      super(code, statusCode, template.replace(/%s/g, () => String(args[i++] ?? '')))
    }
  }
}

/**
 * Every error a client can see, over HTTP and WebSocket alike. The code is the public,
 * snake_case `error.code` of an HTTP error body and of a WebSocket `error` frame; the status
 * is used over HTTP. Errors thrown by libraries (Fastify, the JWT verifier) are translated
 * into these in one place, toPublicError.
 */
export const Errors = {
  InvalidRequest: createError('invalid_request', '%s', 400),
  InvalidJson: createError('invalid_json', '%s', 400),
  InvalidFrame: createError('invalid_frame', '%s', 400),
  UnknownType: createError('unknown_type', 'unknown frame type "%s"', 400),
  ContentTooLong: createError('content_too_long', 'content is longer than %s characters', 400),
  InvalidRecipient: createError('invalid_recipient', '%s', 400),
  InvalidCursor: createError('invalid_cursor', '%s', 400),
  TooManyWatches: createError('too_many_watches', 'a connection watches at most %s users', 400),
  TokenInUrl: createError('token_in_url', 'tokens are never accepted in the URL; send an Authorization header or an auth frame', 400),
  Unauthorized: createError('unauthorized', '%s', 401),
  InvalidCredentials: createError('invalid_credentials', 'invalid id or password', 401),
  Forbidden: createError('forbidden', '%s', 403),
  OriginNotAllowed: createError('origin_not_allowed', 'pages of origin "%s" may not open a WebSocket here (DUOLOG_ALLOWED_ORIGINS)', 403),
  SignupClosed: createError('signup_closed', 'sign-up is open to service clients only', 403),
  /** A user named by the request (a peer, a sender, a path parameter) does not exist, or may not be seen. */
  UnknownUser: createError('not_found', 'user "%s" does not exist', 404),
  /** The recipient of a message or a typing indicator does not exist. */
  UnknownRecipient: createError('unknown_recipient', 'user "%s" does not exist', 404),
  RouteNotFound: createError('not_found', 'no route %s %s', 404),
  UnknownWebhookEvent: createError('not_found', 'webhook event "%s" does not exist (delivered events are kept for an hour, failed ones for 7 days)', 404),
  AlreadyDelivered: createError('already_delivered', 'webhook event "%s" was delivered (or skipped): there is nothing to retry', 409),
  /** The message does not exist, or the caller is not one of its users. */
  UnknownMessage: createError('not_found', 'message %s does not exist', 404),
  MessageDeleted: createError('message_deleted', 'message %s was deleted: it cannot change any more', 409),
  UserExists: createError('user_exists', 'user "%s" already exists', 409),
  IdempotencyConflict: createError('idempotency_conflict', 'clientMsgId "%s" was already used for a different message', 409),
  SyncInProgress: createError('sync_in_progress', 'a sync is already running on this connection', 409),
  RequestTimeout: createError('request_timeout', 'the request did not arrive in full in time (DUOLOG_REQUEST_TIMEOUT_MS)', 408),
  PayloadTooLarge: createError('payload_too_large', '%s', 413),
  UnsupportedMediaType: createError('unsupported_media_type', '%s', 415),
  UpgradeRequired: createError('upgrade_required', 'this route speaks WebSocket', 426),
  RateLimited: createError('rate_limited', 'too many requests, retry in %s', 429),
  HeadersTooLarge: createError('headers_too_large', 'the request headers are larger than %s bytes', 431),
  Internal: createError('internal_error', 'internal error', 500),
  StoreUnavailable: createError('store_unavailable', 'the message store is unavailable', 503),
  NotReady: createError('not_ready', 'the message store cannot write', 503),
  ShuttingDown: createError('shutting_down', 'this server is shutting down: retry (on another instance)', 503),
  PresenceUnavailable: createError('presence_unavailable', 'presence is unavailable for now (its Redis does not answer)', 503),
  IdentityProviderUnavailable: createError('identity_provider_unavailable', 'the identity provider\'s keys (DUOLOG_JWT_JWKS_URL) cannot be fetched for now', 503)
} as const

export interface PublicError {
  code: string
  message: string
  statusCode: number
  /** Sent as `retryAfter` (ms) in a WebSocket error frame and as `Retry-After` (s) over HTTP. */
  retryAfterMs?: number
}

/** rate_limited, with the time after which the same request would pass. */
export function rateLimited (retryAfterMs: number): PublicFailure {
  const error = new Errors.RateLimited(`${(retryAfterMs / 1000).toFixed(retryAfterMs < 10_000 ? 1 : 0)} s`)
  error.retryAfterMs = retryAfterMs
  return error
}

/** Every code a client can see, once each. */
export const publicCodes = (): string[] => [...new Set(Object.values(Errors).map((E) => new E().code))].sort()

const asPublic = (err: PublicFailure): PublicError => err.retryAfterMs === undefined
  ? { code: err.code, message: err.message, statusCode: err.statusCode }
  : { code: err.code, message: err.message, statusCode: err.statusCode, retryAfterMs: err.retryAfterMs }

/** Maps anything thrown to what a client may see; unknown errors become a bland 500. */
export function toPublicError (err: unknown): PublicError {
  const e = err as { code?: unknown, message?: unknown, statusCode?: unknown, validation?: unknown }
  const statusCode = typeof e.statusCode === 'number' ? e.statusCode : 500
  const message = typeof e.message === 'string' ? e.message : 'error'
  if (err instanceof PublicFailure) return asPublic(err)
  if (e.validation !== undefined) {
    const first = (e.validation as Array<{ keyword?: string, instancePath?: string, params?: { additionalProperty?: string } }>)[0]
    if (first?.keyword === 'additionalProperties' && first.params?.additionalProperty !== undefined) {
      const where = `${(e as { validationContext?: string }).validationContext ?? 'body'}${first.instancePath ?? ''}`
      return asPublic(new Errors.InvalidRequest(`${where}/${first.params.additionalProperty} is not a known field`))
    }
    return asPublic(new Errors.InvalidRequest(message))
  }
  switch (e.code) {
    // Node's own refusals, before a request reaches Fastify (the app's clientErrorHandler).
    case 'ERR_HTTP_REQUEST_TIMEOUT': return asPublic(new Errors.RequestTimeout())
    case 'HPE_HEADER_OVERFLOW': return asPublic(new Errors.HeadersTooLarge(maxHeaderSize))
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return asPublic(new Errors.PayloadTooLarge(message))
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return asPublic(new Errors.UnsupportedMediaType(message))
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return asPublic(new Errors.InvalidJson(message))
  }
  if (typeof e.code === 'string' && e.code.startsWith('HPE_')) return asPublic(new Errors.InvalidRequest(`malformed HTTP request: ${(e as { reason?: string }).reason ?? message}`))
  if (statusCode >= 400 && statusCode < 500) return { ...asPublic(new Errors.InvalidRequest(message)), statusCode }
  // The embedded store failing (a full disk, a file gone or corrupt): retryable, not a bug.
  if (typeof e.code === 'string' && e.code.startsWith('SQLITE_')) return asPublic(new Errors.StoreUnavailable())
  return asPublic(new Errors.Internal())
}
