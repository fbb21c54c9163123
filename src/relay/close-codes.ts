/**
 * WebSocket close codes duolog sends (docs/protocol.md).
 * 4000-4499: reconnect (with backoff) and sync. 4500-4999: do not retry as is.
 */
export const CloseCodes = {
  /** The server is shutting down or restarting. */
  serverShutdown: 4000,
  /** Reading the stream failed on the server; the position of this connection is unknown. */
  streamError: 4001,
  /** The client did not read fast enough and the server's send buffer for it filled. */
  slowConsumer: 4003,
  /** No auth frame arrived in time after the upgrade. */
  authTimeout: 4008,
  /** The access token expired: refresh it, then reconnect (or send an auth frame before expiry). */
  tokenExpired: 4401,
  /** The token in the auth frame is invalid or expired. */
  authFailed: 4500,
  /** The first frame of an unauthenticated connection was not an auth frame. */
  authExpected: 4501,
  /** The token belongs to a service client; the WebSocket is for users. */
  userTokenRequired: 4502,
  /** The session logged out. */
  loggedOut: 4503,
  /** A service ended every session of the user. */
  sessionsRevoked: 4504,
  /** The session was ended because one of its refresh tokens was used twice. */
  sessionRevoked: 4505
} as const
