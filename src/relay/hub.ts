import { subscribeWithin, unsubscribeQuietly, type Bus, type Listener } from '../bus/bus.js'
import { Channels } from '../bus/channels.js'
import type { Log } from '../log.js'
import type { StoredMessage } from '../store/store.js'
import type { Connection } from './connection.js'
import type { Disconnect } from './disconnect.js'
import { decodeEvent, encodeEntry, encodeHide, encodeKick, encodeTransient } from './events.js'
import { changeFrame, entryBody, messageFrame, sentFrame } from './frames.js'
import { Registry } from './registry.js'

/** How long a new connection waits for its bus subscription before going on anyway. */
const SUBSCRIBE_WAIT_MS = 1000

/**
 * The hub of this instance: which connections it has (the registry), and everything that
 * reaches them over the bus: stream entries, transient frames and kicks, each published on
 * the user's channel so that every instance delivers it to its own connections.
 * Features (receipts, typing, presence) talk to users through it, never to sockets.
 */
export class Hub {
  readonly registry = new Registry()
  /** The bus listener of each user with connections here. */
  private readonly listeners = new Map<string, Listener>()

  /** What a connection does when its user and a peer start blocking each other (set by the relay: stop watching the peer). */
  onHide: (connection: Connection, peer: string) => void = () => {}

  constructor (private readonly bus: Bus, private readonly log: Log) {}

  /**
   * Adds a connection; on the user's first on this instance, subscribes to the user's channel
   * (resolved once subscribed, so that nothing published after the caller reads the stream's
   * end is missed). With the bus down it does not hold the connection for long: the
   * subscription completes when the bus is back, and the connection reads what it missed
   * from the store at its next entry.
   */
  async register (connection: Connection): Promise<void> {
    const { userId } = connection
    if (!this.registry.add(connection)) return
    const listener: Listener = (payload) => { this.deliver(userId, payload) }
    this.listeners.set(userId, listener)
    await subscribeWithin(this.bus, Channels.user(userId), listener, SUBSCRIBE_WAIT_MS, this.log)
  }

  /** The connections a user has on this instance. */
  count (userId: string): number {
    return this.registry.count(userId)
  }

  /** Removes a connection; true when it was the user's last here. */
  unregister (connection: Connection): boolean {
    const { userId } = connection
    if (!this.registry.remove(connection)) return false
    const listener = this.listeners.get(userId)
    this.listeners.delete(userId)
    if (listener !== undefined) unsubscribeQuietly(this.bus, Channels.user(userId), listener, this.log)
    return true
  }

  /**
   * A stored message to every device of both users, on every instance. The sending
   * connection gets its `sent` at once; the `message` frame with the same seq that reaches it
   * over the bus is then a duplicate its stream drops.
   */
  publish (message: StoredMessage, origin: Connection | undefined): void {
    origin?.offer(message.senderSeq, sentFrame(message), true)
    const body = entryBody(message)
    // recipientSeq 0: a block hides the message from its recipient.
    if (message.recipientSeq > 0) void this.bus.publish(Channels.user(message.to), encodeEntry(messageFrame(message, message.recipientSeq, body)))
    void this.bus.publish(Channels.user(message.from), encodeEntry(messageFrame(message, message.senderSeq, body)))
  }

  /** A change of a message (edited or deleted) to every device of both users, at its seq in each stream (0: not in it). */
  publishChange (kind: 'edited' | 'deleted', message: StoredMessage, senderSeq: number, recipientSeq: number): void {
    const body = entryBody(message)
    if (recipientSeq > 0) void this.bus.publish(Channels.user(message.to), encodeEntry(changeFrame(kind, message, recipientSeq, body)))
    void this.bus.publish(Channels.user(message.from), encodeEntry(changeFrame(kind, message, senderSeq, body)))
  }

  /** A frame that is not a stream entry (receipt, typing) to every device of a user but `except`, on every instance. */
  sendTo (userId: string, frame: string, except?: Connection): void {
    void this.bus.publish(Channels.user(userId), encodeTransient(frame, except?.id))
  }

  /** Closes the connections of one login session of a user, on every instance (logout, refresh token reuse). */
  endSession (userId: string, sessionId: string, disconnect: Disconnect): void {
    void this.bus.publish(Channels.user(userId), encodeKick(disconnect, sessionId))
  }

  /** A block between two users: each one's connections, on every instance, stop showing the other's presence. */
  hideEachOther (a: string, b: string): void {
    void this.bus.publish(Channels.user(a), encodeHide(b))
    void this.bus.publish(Channels.user(b), encodeHide(a))
  }

  /** Closes every connection of a user, on every instance (all sessions revoked). */
  endUser (userId: string, disconnect: Disconnect): void {
    void this.bus.publish(Channels.user(userId), encodeKick(disconnect, ''))
  }

  /** Closes this instance's connections of these login sessions. */
  closeSessions (sessionIds: readonly string[], disconnect: Disconnect): void {
    const ended = new Set(sessionIds)
    for (const connection of this.registry.all()) {
      if (connection.sessionId !== null && ended.has(connection.sessionId)) connection.close(disconnect)
    }
  }

  /** Closes every connection of this instance (shutdown: clients reconnect elsewhere). */
  closeAll (disconnect: Disconnect): void {
    for (const connection of this.registry.all()) connection.close(disconnect)
  }

  /** A payload on the channel of a user with connections here. */
  private deliver (userId: string, payload: string): void {
    const event = decodeEvent(payload)
    const connections = this.registry.connectionsOf(userId)
    if (event === undefined || connections === undefined) return
    for (const connection of connections) {
      switch (event.kind) {
        case 'entry': connection.offer(event.seq, event.frame); break
        case 'transient': if (connection.id !== event.except) connection.send(event.frame); break
        case 'kick': if (event.sessionId === '' || connection.sessionId === event.sessionId) connection.close(event.disconnect); break
        case 'hide': this.onHide(connection, event.peer); break
      }
    }
  }
}
