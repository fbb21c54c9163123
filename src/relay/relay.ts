import type { WebSocket } from 'ws'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import type { Store } from '../store/store.js'
import type { Principal, Tokens } from '../plugins/auth.js'
import { Errors } from '../errors.js'
import { Registry } from './registry.js'
import { Delivery } from './delivery.js'
import type { Connection } from './connection.js'
import { Session } from './session.js'
import { CloseCodes } from './close-codes.js'
import { typingFrame } from './frames.js'

export interface PresenceInfo {
  userId: string
  online: boolean
  connections: number
  /** ISO time: now while online, else when the last connection closed; null if never connected. */
  lastSeen: string | null
}

/**
 * The relay of this process: the connection registry, the delivery path, heartbeats
 * and presence. Routes and WebSocket sessions talk to it, never to each other.
 */
export class Relay {
  readonly registry = new Registry()
  readonly delivery: Delivery
  private readonly heartbeat: NodeJS.Timeout

  constructor (
    readonly config: Config,
    readonly store: Store,
    readonly tokens: Tokens,
    readonly log: FastifyBaseLogger
  ) {
    this.delivery = new Delivery(store, this.registry, config.limits.maxContentLength, log)
    this.heartbeat = setInterval(() => { this.checkHeartbeats() }, config.ws.heartbeatMs)
    this.heartbeat.unref()
  }

  /**
   * Takes over an upgraded socket; `principal` is set when the upgrade carried a valid token,
   * `after` when the client asked to resume from a seq.
   */
  accept (socket: WebSocket, principal: Principal | null, after?: number): void {
    // The Session lives as long as the socket's listeners it attaches.
    // eslint-disable-next-line no-new
    new Session(this, socket, principal, after)
  }

  register (connection: Connection): void {
    this.registry.add(connection)
  }

  unregister (connection: Connection): void {
    if (this.registry.remove(connection)) {
      this.store.setLastSeen(connection.userId, Date.now()).catch((err: unknown) => {
        this.log.warn({ err, userId: connection.userId }, 'recording lastSeen failed')
      })
    }
  }

  /** Closes the connections of one session of a user (logout, refresh token reuse). */
  endSession (userId: string, sessionId: string, code: number, reason: string): void {
    for (const connection of this.registry.connectionsOf(userId) ?? []) {
      if (connection.sessionId === sessionId) connection.close(code, reason)
    }
  }

  /** Closes every connection of a user (all sessions revoked). */
  endUser (userId: string, code: number, reason: string): void {
    for (const connection of this.registry.connectionsOf(userId) ?? []) connection.close(code, reason)
  }

  /** Throws unless `to` is another, existing user. */
  async checkRecipient (from: string, to: string): Promise<void> {
    if (to === from) throw new Errors.InvalidRecipient('a typing indicator goes to another user, not to its sender')
    if (await this.store.getUser(to) === undefined) throw new Errors.UnknownRecipient(to)
  }

  /** Shows `from` typing (or not) on every connected device of `to`. Never stored. */
  typing (from: string, to: string, state: 'start' | 'stop'): void {
    const connections = this.registry.connectionsOf(to)
    if (connections === undefined) return
    const frame = typingFrame(from, state)
    for (const connection of connections) connection.send(frame)
  }

  /** Records that a device of userId has every entry up to upTo. */
  async ack (userId: string, upTo: number): Promise<number> {
    const { lastSeq } = await this.store.streamState(userId)
    if (upTo > lastSeq) throw new Errors.InvalidCursor(`upTo (${upTo}) is beyond the end of the stream (${lastSeq})`)
    return await this.store.ack(userId, upTo)
  }

  /** Presence of the known users among ids, in the order asked. */
  async presence (ids: readonly string[]): Promise<PresenceInfo[]> {
    const lastSeen = await this.store.lastSeen(ids)
    const now = new Date().toISOString()
    const result: PresenceInfo[] = []
    for (const userId of ids) {
      if (!lastSeen.has(userId)) continue
      const connections = this.registry.count(userId)
      const seen = lastSeen.get(userId)
      result.push({
        userId,
        online: connections > 0,
        connections,
        lastSeen: connections > 0 ? now : seen == null ? null : new Date(seen).toISOString()
      })
    }
    return result
  }

  /** Drops connections that did not answer the previous ping; pings the rest. */
  private checkHeartbeats (): void {
    for (const connection of this.registry.all()) {
      if (!connection.alive) {
        connection.terminate()
        continue
      }
      connection.alive = false
      connection.ping()
    }
  }

  /** Stops heartbeats and asks every client to reconnect (elsewhere) and sync. */
  close (): void {
    clearInterval(this.heartbeat)
    for (const connection of this.registry.all()) connection.close(CloseCodes.serverShutdown, 'server_shutdown')
  }
}
