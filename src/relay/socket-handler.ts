import { randomUUID } from 'node:crypto'
import type { Principal, Tokens } from '../auth/tokens.js'
import { Errors, toPublicError } from '../errors.js'
import type { Log } from '../log.js'
import type { Metrics } from '../metrics.js'
import type { Presence } from '../presence/presence.js'
import type { StreamReader } from '../store/store.js'
import type { AckFrame, AuthFrame, ClientFrame, ReadFrame, SendFrame, SyncFrame } from '../schemas/frames.js'
import { Connection } from './connection.js'
import type { Delivery, SendOutcome } from './delivery.js'
import type { MessageChanges } from './changes.js'
import { Disconnect } from './disconnect.js'
import { errorFrame, parseClientFrame, PONG_FRAME } from './frames.js'
import type { Heartbeats } from './heartbeats.js'
import type { Receipts } from './receipts.js'
import type { Hub } from './hub.js'
import type { Cooldowns, KeyedLimits } from '../limits.js'
import { TokenBucket } from '../token-bucket.js'
import type { Transport, TransportEvents } from './transport.js'
import type { Typing, TypingIndicators } from './typing.js'

const DEFAULT_SYNC_LIMIT = 100
/** Frames held while a connection starts (a client that does not wait for `ready`); more close it. */
const MAX_FRAMES_BEFORE_READY = 64
/** The longest a client over its send rate goes unread (heartbeats must still get through). */
const MAX_PAUSE_MS = 1000
/** Send refusals a connection may get per second before it is closed for ignoring retryAfter. */
const REFUSALS_PER_SECOND = 50
/** How long a user closed for ignoring its rate may not open connections (reconnecting at once would start over). */
const RATE_LIMIT_COOLDOWN_MS = 10_000

/** What every socket's handler uses: the relay's features and settings. */
export interface SocketDeps {
  tokens: Pick<Tokens, 'verify'>
  hub: Pick<Hub, 'register' | 'unregister' | 'count'>
  delivery: Pick<Delivery, 'submit'>
  changes: Pick<MessageChanges, 'edit' | 'delete'>
  receipts: Pick<Receipts, 'ack' | 'read'>
  typing: Pick<Typing, 'forConnection'>
  presence: Pick<Presence, 'connected' | 'disconnected' | 'watch' | 'unwatch'>
  heartbeats: Pick<Heartbeats, 'heard'>
  readLimits: Pick<KeyedLimits, 'take'>
  cooldowns: Cooldowns
  stream: StreamReader
  metrics: Pick<Metrics, 'messagesDelivered' | 'limited'>
  settings: {
    authTimeoutMs: number
    maxBufferedBytes: number
    maxSyncPage: number
    maxConnectionsPerUser: number
  }
  log: Log
}

/**
 * One WebSocket from upgrade to close: authentication (a token checked at the upgrade, or
 * the first frame), then the frame loop that turns each client frame into a call on a
 * feature and its failure into an `error` frame.
 */
export class SocketHandler implements TransportEvents {
  /** Names the socket in every log line, from the upgrade on; the connection keeps it. */
  private readonly id = randomUUID()
  private connection: Connection | null = null
  /** Frames received before the connection is live; null once it is. */
  private early: string[] | null = []
  private authTimer: NodeJS.Timeout | undefined
  private expiryTimer: NodeJS.Timeout | undefined
  private typing: TypingIndicators | undefined
  /** A sync waiting for its turn to read (DUOLOG_READ_RATE): it counts as running. */
  private syncWaiting = false
  private readonly refusals = new TokenBucket(REFUSALS_PER_SECOND, 1000)

  /**
   * `principal` is set when the upgrade carried a valid token, `after` when the client asked
   * to resume from a seq.
   */
  constructor (private readonly deps: SocketDeps, private readonly transport: Transport, principal: Principal | null, after?: number) {
    deps.log.info({ connectionId: this.id, userId: principal?.id, auth: principal === null ? 'frame' : 'header' }, 'websocket opened')
    if (principal !== null) {
      void this.begin(principal, after)
    } else {
      this.authTimer = setTimeout(() => { this.transport.close(Disconnect.authTimeout) }, deps.settings.authTimeoutMs)
    }
  }

  receive (text: string): void {
    // Frames still read after the server closed the connection are dropped unparsed.
    if (this.connection !== null && !this.connection.open) return
    if (this.connection !== null) this.deps.heartbeats.heard(this.connection)
    if (this.early === null) {
      this.handle(text)
    } else if (this.authTimer !== undefined) {
      void this.authenticate(text)
    } else if (this.early.length < MAX_FRAMES_BEFORE_READY) {
      this.early.push(text)
    } else {
      this.transport.close(Disconnect.framesBeforeReady)
    }
  }

  pong (): void {
    if (this.connection !== null) this.deps.heartbeats.heard(this.connection)
  }

  closed (code: number): void {
    clearTimeout(this.authTimer)
    clearTimeout(this.expiryTimer)
    this.typing?.stopAll()
    const { connection } = this
    if (connection === null) {
      this.deps.log.info({ connectionId: this.id, code }, 'websocket closed before authentication')
      return
    }
    this.deps.log.info({ userId: connection.userId, connectionId: connection.id, code }, 'websocket closed')
    this.deps.hub.unregister(connection)
    this.deps.presence.disconnected(connection.userId, connection)
  }

  private async authenticate (text: string): Promise<void> {
    // Frames that arrive while the token is checked wait in `early` (authTimer is unset now).
    clearTimeout(this.authTimer)
    this.authTimer = undefined
    const parsed = parseClientFrame(text)
    if (!parsed.ok || parsed.frame.type !== 'auth') {
      this.refuse(Disconnect.authExpected)
      return
    }
    let principal: Principal
    try {
      principal = await this.deps.tokens.verify(parsed.frame.token)
    } catch (err) {
      this.refuse(toPublicError(err).statusCode === 503 ? Disconnect.authUnavailable : Disconnect.authFailed)
      return
    }
    if (principal.kind !== 'user') {
      this.refuse(Disconnect.userTokenRequired)
      return
    }
    void this.begin(principal, parsed.frame.after)
  }

  private refuse (disconnect: Disconnect): void {
    this.deps.log.info({ connectionId: this.id, code: disconnect.code, reason: disconnect.reason }, 'websocket authentication refused')
    this.transport.close(disconnect)
  }

  /**
   * Registers the connection, sends `ready`, then either goes live from lastSeq or, with
   * `after`, replays from there first (like a sync), so a resuming device has no window
   * in which a live frame could overtake its backlog.
   */
  private async begin (principal: Principal, after: number | undefined): Promise<void> {
    const { deps } = this
    if (deps.cooldowns.remaining(principal.id) > 0) {
      this.transport.close(Disconnect.rateLimitIgnored)
      return
    }
    if (deps.hub.count(principal.id) >= deps.settings.maxConnectionsPerUser) {
      deps.log.info({ connectionId: this.id, userId: principal.id }, 'websocket refused: too many connections')
      deps.metrics.limited('connections')
      this.transport.close(Disconnect.tooManyConnections)
      return
    }
    const connection = new Connection({
      id: this.id,
      userId: principal.id,
      transport: this.transport,
      stream: deps.stream,
      maxBufferedBytes: deps.settings.maxBufferedBytes,
      delivered: deps.metrics.messagesDelivered,
      log: deps.log
    })
    this.connection = connection
    this.extend(connection, principal)
    try {
      const registered = deps.hub.register(connection)
      deps.presence.connected(principal.id)
      await registered
      const state = await deps.stream.streamState(principal.id)
      deps.log.info({ userId: principal.id, connectionId: connection.id, sessionId: principal.sessionId }, 'websocket authenticated')
      connection.send(JSON.stringify({ type: 'ready', userId: principal.id, connectionId: connection.id, lastSeq: state.lastSeq, ackedSeq: state.ackedSeq }))
      if (after === undefined) await connection.start(state.lastSeq)
      else await this.sync(connection, { type: 'sync', after }, state.lastSeq)
    } catch (err) {
      const error = toPublicError(err)
      if (error.statusCode < 500) {
        connection.send(errorFrame(error))
      } else {
        deps.log.error({ err, userId: principal.id, connectionId: connection.id }, 'starting a connection failed')
        connection.close(Disconnect.streamError)
        return
      }
    }
    const early = this.early ?? []
    this.early = null
    for (const text of early) this.handle(text)
  }

  private handle (text: string): void {
    const connection = this.connection as Connection
    const parsed = parseClientFrame(text)
    if (!parsed.ok) {
      connection.send(errorFrame(parsed.error, parsed.ref))
      return
    }
    const frame: ClientFrame = parsed.frame
    const { deps } = this
    switch (frame.type) {
      case 'send': this.send(connection, frame); break
      case 'sync': this.run(connection, this.sync(connection, frame)); break
      case 'ack': this.run(connection, this.ack(connection, frame)); break
      case 'ping': connection.send(PONG_FRAME); break
      case 'typing':
        this.typing ??= deps.typing.forConnection(connection.userId)
        this.run(connection, this.typing.change(frame.to, frame.state))
        break
      case 'read': this.run(connection, this.read(connection, frame)); break
      case 'watch': this.run(connection, deps.presence.watch(connection, connection.userId, frame.users)); break
      case 'unwatch': deps.presence.unwatch(connection, frame.users); break
      case 'auth': void this.reauthenticate(connection, frame); break
      case 'edit': this.run(connection, deps.changes.edit({ kind: 'user', id: connection.userId }, frame.id, frame.content), String(frame.id)); break
      case 'delete': this.run(connection, deps.changes.delete({ kind: 'user', id: connection.userId }, frame.id), String(frame.id)); break
    }
  }

  /** Runs the connection on this principal's token: it closes when the token expires. */
  private extend (connection: Connection, principal: Principal): void {
    connection.sessionId = principal.sessionId
    clearTimeout(this.expiryTimer)
    // setTimeout holds at most about 24.8 days; the longest token TTL is 24 days.
    this.expiryTimer = setTimeout(() => { connection.close(Disconnect.tokenExpired) }, Math.max(0, principal.expiresAt - Date.now()))
  }

  /** An auth frame on an open connection: a fresh token of the same user keeps it open longer. */
  private async reauthenticate (connection: Connection, frame: AuthFrame): Promise<void> {
    let principal: Principal
    try {
      principal = await this.deps.tokens.verify(frame.token)
    } catch (err) {
      connection.send(errorFrame(toPublicError(err)))
      return
    }
    if (principal.kind !== 'user' || principal.id !== connection.userId) {
      connection.send(errorFrame(toPublicError(new Errors.Forbidden('an auth frame on an open connection must carry a token of the same user'))))
      return
    }
    this.extend(connection, principal)
    connection.send(JSON.stringify({ type: 'authenticated', expiresAt: new Date(principal.expiresAt).toISOString() }))
  }

  private send (connection: Connection, frame: SendFrame): void {
    this.deps.delivery.submit({ from: connection.userId, to: frame.to, content: frame.content, clientMsgId: frame.clientMsgId }, connection, this.sendOutcome)
  }

  /** How this socket's sends end: `sent` went out with the fan-out; a refusal is answered here. */
  private readonly sendOutcome: SendOutcome = {
    stored: () => {},
    refused: (err, clientMsgId) => {
      const connection = this.connection
      if (connection === null) return
      const error = toPublicError(err)
      connection.send(errorFrame(error, clientMsgId))
      // A client over its rate: stop reading its frames until it may send again, so that a
      // flood of refused sends waits in the network instead of costing the server.
      if (error.retryAfterMs === undefined) return
      if (this.refusals.take()) {
        this.transport.pause(Math.min(error.retryAfterMs, MAX_PAUSE_MS))
      } else {
        this.deps.log.info({ userId: connection.userId, connectionId: connection.id }, 'websocket closed: sends past the rate without waiting')
        this.deps.cooldowns.start(connection.userId, RATE_LIMIT_COOLDOWN_MS)
        connection.close(Disconnect.rateLimitIgnored)
      }
    }
  }

  /** `fallbackCursor`: where a refused resume leaves the connection (at connect only). */
  private async sync (connection: Connection, frame: SyncFrame, fallbackCursor?: number): Promise<void> {
    if ((connection.syncing || this.syncWaiting) && fallbackCursor === undefined) throw new Errors.SyncInProgress()
    const limit = Math.min(frame.limit ?? DEFAULT_SYNC_LIMIT, this.deps.settings.maxSyncPage)
    if (!await this.readTurn(connection, limit)) return
    if (fallbackCursor !== undefined) connection.cursor = fallbackCursor
    const { upTo, more } = await connection.replay(frame.after, limit)
    connection.send(JSON.stringify({ type: 'synced', upTo, more }))
  }

  /**
   * Waits until the user may read another page of `messages` (the user's rate is shared by all
   * their connections and HTTP): a sync over the rate is slowed down, not refused. False when
   * the connection closed meanwhile.
   */
  private async readTurn (connection: Connection, messages: number): Promise<boolean> {
    let wait = this.deps.readLimits.take(connection.userId, messages)
    if (wait === 0) return true
    this.deps.metrics.limited('read')
    this.syncWaiting = true
    try {
      while (wait > 0 && connection.open) {
        await new Promise((resolve) => setTimeout(resolve, wait))
        wait = this.deps.readLimits.take(connection.userId, messages)
      }
    } finally {
      this.syncWaiting = false
    }
    return connection.open
  }

  private async ack (connection: Connection, frame: AckFrame): Promise<void> {
    await this.deps.receipts.ack(connection.userId, frame.upTo)
  }

  private async read (connection: Connection, frame: ReadFrame): Promise<void> {
    await this.deps.receipts.read(connection.userId, frame.peer, frame.upTo, connection)
  }

  /** Runs a frame's work; its failure becomes an error frame, never a crash. */
  private run (connection: Connection, work: Promise<unknown>, ref?: string): void {
    work.catch((err: unknown) => {
      const error = toPublicError(err)
      if (error.statusCode >= 500) this.deps.log.error({ err, userId: connection.userId, connectionId: connection.id }, 'frame failed')
      connection.send(errorFrame(error, ref))
    })
  }
}
