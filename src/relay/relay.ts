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
import { messageFrame, presenceFrame, receiptFrame, sentFrame, typingFrame } from './frames.js'
import { decodeEvent, encodeEntry, encodeKick, encodeTransient, userChannel } from './events.js'
import { subscribeWithin, type Bus } from '../bus/bus.js'
import type { StoredMessage } from '../store/store.js'
import { MAX_WATCHES, PresenceTracker, PresenceWatchers } from './presence.js'
import type { PresenceStore, UserPresence } from '../presence/presence.js'

/** How long a new connection (or watch) waits for its bus subscription before going on anyway. */
const SUBSCRIBE_WAIT_MS = 1000

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
  private readonly presenceTracker: PresenceTracker
  private readonly presenceWatchers: PresenceWatchers
  private readonly heartbeat: NodeJS.Timeout

  constructor (
    readonly config: Config,
    readonly store: Store,
    readonly tokens: Tokens,
    readonly log: FastifyBaseLogger,
    readonly bus: Bus,
    presenceStore: PresenceStore
  ) {
    this.delivery = new Delivery(store, (message, origin) => { this.fanOut(message, origin) }, config.limits.maxContentLength, log)
    this.presenceTracker = new PresenceTracker(presenceStore, {
      leaseMs: config.presenceLeaseMs,
      graceMs: config.presenceGraceMs,
      localUsers: () => this.registry.users(),
      onExpired: (userId, lastSeen) => { this.recordLastSeen(userId, lastSeen) },
      log
    })
    this.presenceWatchers = new PresenceWatchers(bus, log)
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

  /**
   * Adds a connection; on the user's first on this instance, subscribes to the user's channel
   * (resolved once subscribed, so that nothing published after the caller reads the stream's
   * end is missed).
   */
  async register (connection: Connection): Promise<void> {
    const userId = connection.userId
    const first = this.registry.add(connection)
    this.presenceTracker.connected(userId, this.registry.count(userId))
    if (!first) return
    // With the bus down, do not hold the connection: the subscription completes when it is
    // back, and the connection reads what it missed from the store at its next entry.
    await subscribeWithin(this.bus, userChannel(userId), (payload) => { this.onEvent(userId, payload) }, SUBSCRIBE_WAIT_MS,
      (err) => { this.log.warn({ err, userId }, 'subscribing failed') })
  }

  unregister (connection: Connection): void {
    const userId = connection.userId
    this.presenceWatchers.forget(connection)
    const last = this.registry.remove(connection)
    // One time for the store's lastSeen and the presence state, so that both tell the same.
    const now = Date.now()
    this.presenceTracker.disconnected(userId, this.registry.count(userId), now)
    if (last) {
      this.bus.unsubscribe(userChannel(userId)).catch((err: unknown) => {
        this.log.warn({ err, userId }, 'unsubscribing failed')
      })
      this.recordLastSeen(userId, now)
    }
  }

  private recordLastSeen (userId: string, at: number): void {
    this.store.setLastSeen(userId, at).catch((err: unknown) => {
      this.log.warn({ err, userId }, 'recording lastSeen failed')
    })
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
    const visible = await this.visible(fresh, { kind: 'user', id: connection.userId })
    // Subscribed before the state is read: a change after the read arrives as an event.
    for (const id of visible.keys()) await this.presenceWatchers.watch(connection, id)
    for (const info of await this.presenceOf(visible)) {
      connection.send(presenceFrame(info.userId, info.online, info.lastSeen))
    }
  }

  unwatch (connection: Connection, users: readonly string[]): void {
    for (const id of users) this.presenceWatchers.unwatch(connection, id)
  }

  /**
   * The stored message to every device of both users, on every instance. The sending
   * connection gets its `sent` at once; the `message` frame with the same seq that reaches it
   * over the bus is then a duplicate its stream drops.
   */
  private fanOut (message: StoredMessage, origin: Connection | undefined): void {
    origin?.offer(message.senderSeq, sentFrame(message), true)
    void this.bus.publish(userChannel(message.to), encodeEntry(message.recipientSeq, messageFrame(message, message.recipientSeq)))
    void this.bus.publish(userChannel(message.from), encodeEntry(message.senderSeq, messageFrame(message, message.senderSeq)))
  }

  /** A payload on the channel of a user with connections here. */
  private onEvent (userId: string, payload: string): void {
    const event = decodeEvent(payload)
    const connections = this.registry.connectionsOf(userId)
    if (event === undefined || connections === undefined) return
    for (const connection of connections) {
      switch (event.kind) {
        case 'entry': connection.offer(event.seq, event.frame); break
        case 'transient': if (connection.id !== event.except) connection.send(event.frame); break
        case 'kick': if (event.sessionId === '' || connection.sessionId === event.sessionId) connection.close(event.code, event.reason); break
      }
    }
  }

  /** Closes the connections of one session of a user, on every instance (logout, refresh token reuse). */
  endSession (userId: string, sessionId: string, code: number, reason: string): void {
    void this.bus.publish(userChannel(userId), encodeKick(code, sessionId, reason))
  }

  /** Closes every connection of a user, on every instance (all sessions revoked). */
  endUser (userId: string, code: number, reason: string): void {
    void this.bus.publish(userChannel(userId), encodeKick(code, '', reason))
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

  /** A frame that is not a stream entry (receipt, typing) to every device of a user, on every instance. */
  private sendTo (userId: string, frame: string, except?: Connection): void {
    void this.bus.publish(userChannel(userId), encodeTransient(frame, except?.id))
  }

  /** Presence of the users among ids that exist and that viewer may see, in the order asked. */
  async presence (ids: readonly string[], viewer: { kind: 'user' | 'service', id: string }): Promise<PresenceInfo[]> {
    return await this.presenceOf(await this.visible(ids, viewer))
  }

  /** The users among ids that exist and that viewer may see, with the lastSeen the store has. */
  private async visible (ids: readonly string[], viewer: { kind: 'user' | 'service', id: string }): Promise<Map<string, number | null>> {
    const known = await this.store.lastSeen(ids)
    for (const userId of known.keys()) if (!(await this.canSee(viewer, userId))) known.delete(userId)
    return known
  }

  private async presenceOf (lastSeen: ReadonlyMap<string, number | null>): Promise<PresenceInfo[]> {
    const states = await this.presenceTracker.state([...lastSeen.keys()])
    const now = Date.now()
    return [...lastSeen].map(([userId, stored]) => {
      const { online, connections, lastAlive } = states.get(userId) as UserPresence
      // Offline: the newest of what the store recorded and of what a lease that ran out (not
      // swept yet) last vouched for.
      const seen = Math.max(stored ?? 0, lastAlive ?? 0)
      return {
        userId,
        online,
        connections,
        lastSeen: online && connections > 0 ? new Date(now).toISOString() : seen === 0 ? null : new Date(seen).toISOString()
      }
    })
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
    this.presenceTracker.close()
    for (const connection of this.registry.all()) connection.close(CloseCodes.serverShutdown, 'server_shutdown')
  }
}
