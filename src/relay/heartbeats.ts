import type { Connection } from './connection.js'

/**
 * Finds dead sockets: every interval, each connection that has not been heard from since
 * the previous ping (no pong, no frame) is dropped, and the others are pinged.
 */
export class Heartbeats {
  /** Pinged and not heard from since. */
  private readonly quiet = new WeakSet<Connection>()
  private readonly timer: NodeJS.Timeout

  constructor (private readonly connections: () => Iterable<Connection>, intervalMs: number) {
    this.timer = setInterval(() => { this.check() }, intervalMs)
    this.timer.unref()
  }

  /** The client answered a ping or sent a frame: it is alive. */
  heard (connection: Connection): void {
    this.quiet.delete(connection)
  }

  check (): void {
    for (const connection of this.connections()) {
      if (this.quiet.has(connection)) {
        connection.terminate()
        continue
      }
      this.quiet.add(connection)
      connection.ping()
    }
  }

  close (): void {
    clearInterval(this.timer)
  }
}
