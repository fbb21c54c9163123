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
import { presenceFrame, receiptFrame, typingFrame } from './frames.js'
import { MAX_WATCHES, PresenceHub } from './presence.js'

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
  readonly presenceHub: PresenceHub
  private readonly heartbeat: NodeJS.Timeout

  constructor (
    readonly config: Config,
    readonly store: Store,
    readonly tokens: Tokens,
    readonly log: FastifyBaseLogger
  ) {
    this.delivery = new Delivery(store, this.registry, config.limits.maxContentLength, log)
    this.presenceHub = new PresenceHub(config.presenceGraceMs)
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
    if (this.registry.add(connection)) this.presenceHub.connected(connection.userId)
  }

  unregister (connection: Connection): void {
    this.presenceHub.forget(connection)
    if (this.registry.remove(connection)) {
      this.presenceHub.disconnected(connection.userId)
      this.store.setLastSeen(connection.userId, Date.now()).catch((err: unknown) => {
        this.log.warn({ err, userId: connection.userId }, 'recording lastSeen failed')
      })
    }
  }

  /**
   * Whether `viewer` may see the presence of `target`: services always, users their own and,
   * by DUOLOG_PRESENCE_VISIBILITY, everyone's, nobody's or (the default) their contacts'.
   */
  async canSee (viewer: { kind: 'user' | 'service', id: string }, target: string): Promise<boolean> {
    if (viewer.kind === 'service' || viewer.id === target) return true
    switch (this.config.presenceVisibility) {
      case 'everyone': return true
      case 'nobody': return false
      case 'contacts': return await this.store.hasConversation(viewer.id, target)
    }
  }

  /**
   * Subscribes a connection to presence changes of the users it may see, and answers with
   * their presence now. Users it may not see (or that do not exist) are left out silently.
   */
  async watch (connection: Connection, users: readonly string[]): Promise<void> {
    const fresh = [...new Set(users)].filter((id) => !connection.watching.has(id))
    if (connection.watching.size + fresh.length > MAX_WATCHES) throw new Errors.TooManyWatches(MAX_WATCHES)
    for (const info of await this.presence(fresh, { kind: 'user', id: connection.userId })) {
      this.presenceHub.watch(connection, info.userId)
      connection.send(presenceFrame(info.userId, info.online, info.lastSeen))
    }
  }

  unwatch (connection: Connection, users: readonly string[]): void {
    for (const id of users) this.presenceHub.unwatch(connection, id)
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
    this.sendTo(to, typingFrame(from, state))
  }

  /**
   * Records that a device of userId has every entry up to upTo, and tells each peer whose
   * messages that delivered (one `delivered` receipt per peer per advance).
   */
  async ack (userId: string, upTo: number): Promise<number> {
    const { lastSeq, ackedSeq } = await this.store.streamState(userId)
    if (upTo > lastSeq) throw new Errors.InvalidCursor(`upTo (${upTo}) is beyond the end of the stream (${lastSeq})`)
    const acked = await this.store.ack(userId, upTo)
    if (acked > ackedSeq) {
      for (const { peer, upTo: messageId } of await this.store.markDelivered(userId, ackedSeq, acked)) {
        this.sendTo(peer, receiptFrame('delivered', userId, userId, messageId))
      }
    }
    return acked
  }

  /**
   * Moves userId's read marker with peer forward. The peer's devices are told (unless read
   * receipts are off), and so are the reader's other devices, so that their badges clear.
   */
  async read (userId: string, peer: string, upTo: number, origin?: Connection): Promise<number> {
    if (peer === userId) throw new Errors.InvalidRecipient('a read marker is kept per conversation with another user')
    if (await this.store.getUser(peer) === undefined) throw new Errors.NotFound(`user "${peer}" does not exist`)
    const outcome = await this.store.markRead(userId, peer, upTo)
    if (outcome.status === 'invalid') throw new Errors.InvalidCursor(`upTo (${upTo}) is beyond the newest message with ${peer}`)
    if (outcome.status === 'advanced') {
      if (this.config.readReceipts) this.sendTo(peer, receiptFrame('read', userId, userId, upTo))
      this.sendTo(userId, receiptFrame('read', peer, userId, upTo), origin)
    }
    return outcome.readUpTo
  }

  private sendTo (userId: string, frame: string, except?: Connection): void {
    for (const connection of this.registry.connectionsOf(userId) ?? []) if (connection !== except) connection.send(frame)
  }

  /** Presence of the users among ids that exist and that viewer may see, in the order asked. */
  async presence (ids: readonly string[], viewer: { kind: 'user' | 'service', id: string }): Promise<PresenceInfo[]> {
    const lastSeen = await this.store.lastSeen(ids)
    const now = new Date().toISOString()
    const result: PresenceInfo[] = []
    for (const userId of ids) {
      if (!lastSeen.has(userId) || !(await this.canSee(viewer, userId))) continue
      const connections = this.registry.count(userId)
      const seen = lastSeen.get(userId)
      const online = connections > 0 || this.presenceHub.lingering(userId)
      result.push({
        userId,
        online,
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
    this.presenceHub.close()
    for (const connection of this.registry.all()) connection.close(CloseCodes.serverShutdown, 'server_shutdown')
  }
}
