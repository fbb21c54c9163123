import type { Connection } from './connection.js'

/**
 * Connections checked in one turn of the event loop: a ping is a system call (about 20 µs),
 * so 19,000 connections checked at once would hold the loop for 400 ms.
 */
export const HEARTBEAT_SLICE = 256

/**
 * Finds dead sockets: every interval, each connection that has not been heard from since
 * the previous ping (no pong, no frame) is dropped, and the others are pinged, a slice at a
 * time with a turn of the event loop between slices.
 */
export class Heartbeats {
  /** Pinged and not heard from since. */
  private readonly quiet = new WeakSet<Connection>()
  private readonly timer: NodeJS.Timeout
  private nextSlice: NodeJS.Immediate | undefined

  constructor (private readonly connections: () => Iterable<Connection>, intervalMs: number) {
    this.timer = setInterval(() => { this.check() }, intervalMs)
    this.timer.unref()
  }

  /** The client answered a ping or sent a frame: it is alive. */
  heard (connection: Connection): void {
    this.quiet.delete(connection)
  }

  /** Checks every connection there is now: the first slice at once, the rest in later turns. */
  check (): void {
    // A check still going (a very short interval) is replaced by the new one.
    clearImmediate(this.nextSlice)
    this.checkSlice([...this.connections()], 0)
  }

  private checkSlice (connections: readonly Connection[], from: number): void {
    const end = Math.min(connections.length, from + HEARTBEAT_SLICE)
    for (let i = from; i < end; i++) {
      const connection = connections[i] as Connection
      if (this.quiet.has(connection)) {
        connection.terminate()
        continue
      }
      this.quiet.add(connection)
      connection.ping()
    }
    this.nextSlice = end < connections.length ? setImmediate(() => { this.checkSlice(connections, end) }) : undefined
  }

  close (): void {
    clearInterval(this.timer)
    clearImmediate(this.nextSlice)
  }
}
