/**
 * What domain code logs with: the shape of a pino logger, which Fastify's logger has.
 * Background failures (a publish, a lease renewal, a lastSeen write) are reported here,
 * with the context that names what failed; nothing else swallows or forwards them.
 */
export interface Log {
  info (context: object, message: string): void
  warn (context: object, message: string): void
  error (context: object, message: string): void
}

/** For code that runs without a logger (tests, benchmarks). */
export const silentLog: Log = { info () {}, warn () {}, error () {} }
