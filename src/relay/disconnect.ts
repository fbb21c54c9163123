/**
 * Why the server closes a WebSocket: one value, the close code and its reason, sent as
 * the WebSocket close frame (docs/protocol.md). 4000-4499: reconnect (with backoff) and
 * sync. 4500-4999: do not retry as is.
 */
export interface Disconnect {
  readonly code: number
  readonly reason: string
}

const disconnect = (code: number, reason: string): Disconnect => Object.freeze({ code, reason })

// The known values share the type's name, as an enum's members would.
// eslint-disable-next-line @typescript-eslint/no-redeclare
export const Disconnect = {
  /** The server is shutting down or restarting. */
  serverShutdown: disconnect(4000, 'server_shutdown'),
  /** Reading the stream failed on the server; the position of this connection is unknown. */
  streamError: disconnect(4001, 'stream_error'),
  /** The identity provider's keys could not be fetched to check the token: reconnect later. */
  authUnavailable: disconnect(4002, 'auth_unavailable'),
  /** The client did not read fast enough and the server's send buffer for it filled. */
  slowConsumer: disconnect(4003, 'slow_consumer'),
  /** No auth frame arrived in time after the upgrade. */
  authTimeout: disconnect(4008, 'auth_timeout'),
  /** More frames arrived before `ready` than the server holds: wait for `ready` before sending. */
  framesBeforeReady: disconnect(4009, 'frames_before_ready'),
  /** The client kept sending past its rate without waiting for `retryAfter`. */
  rateLimitIgnored: disconnect(4029, 'rate_limit_ignored'),
  /** The access token expired: refresh it, then reconnect (or send an auth frame before expiry). */
  tokenExpired: disconnect(4401, 'token_expired'),
  /** The token in the auth frame is invalid or expired. */
  authFailed: disconnect(4500, 'auth_failed'),
  /** The first frame of an unauthenticated connection was not an auth frame. */
  authExpected: disconnect(4501, 'auth_expected'),
  /** The token belongs to a service client; the WebSocket is for users. */
  userTokenRequired: disconnect(4502, 'user_token_required'),
  /** The session logged out. */
  loggedOut: disconnect(4503, 'logged_out'),
  /** A service ended every session of the user. */
  sessionsRevoked: disconnect(4504, 'sessions_revoked'),
  /** The session was ended because one of its refresh tokens was used twice. */
  sessionRevoked: disconnect(4505, 'session_revoked'),
  /** The session ended on another server (logout or revocation) and this one learned it from the store. */
  sessionEnded: disconnect(4506, 'session_ended'),
  /** The user's account was deleted. */
  userDeleted: disconnect(4507, 'user_deleted'),
  /** The user changed their password: every other session ended. */
  passwordChanged: disconnect(4509, 'password_changed'),
  /** The user already holds DUOLOG_MAX_CONNECTIONS_PER_USER connections on this instance: close one first. */
  tooManyConnections: disconnect(4508, 'too_many_connections')
} as const
