import type { RawData, WebSocket } from 'ws'
import type { Principal } from '../plugins/auth.js'
import { Errors, toPublicError } from '../errors.js'
import { Connection } from './connection.js'
import { CloseCodes } from './close-codes.js'
import { errorFrame, parseClientFrame, PONG_FRAME } from './frames.js'
import type { AckFrame, AuthFrame, ClientFrame, ReadFrame, SendFrame, SyncFrame, TypingFrame } from '../schemas/frames.js'
import { RateLimit, TypingState } from './typing.js'
import type { Relay } from './relay.js'

const DEFAULT_SYNC_LIMIT = 100

/**
 * One WebSocket from upgrade to close: authentication (header or first frame),
 * then the frame loop. Listeners are attached synchronously so no frame is missed.
 */
export class Session {
  private connection: Connection | null = null
  /** Frames received before the connection is live; null once it is. */
  private early: RawData[] | null = []
  private authTimer: NodeJS.Timeout | undefined
  private readonly typingLimit: RateLimit
  private typingState: TypingState | undefined
  private expiryTimer: NodeJS.Timeout | undefined

  constructor (private readonly relay: Relay, private readonly socket: WebSocket, principal: Principal | null, after?: number) {
    this.typingLimit = new RateLimit(relay.config.ws.typingPer10s, 10_000)
    socket.on('message', (data) => { this.onMessage(data) })
    socket.on('close', () => { this.onClose() })
    socket.on('pong', () => { if (this.connection !== null) this.connection.alive = true })
    if (principal !== null) {
      void this.begin(principal, after)
    } else {
      this.authTimer = setTimeout(() => { this.socket.close(CloseCodes.authTimeout, 'auth_timeout') }, relay.config.ws.authTimeoutMs)
    }
  }

  private onMessage (data: RawData): void {
    if (this.connection !== null) this.connection.alive = true
    if (this.early === null) {
      this.handle(data)
    } else if (this.authTimer !== undefined) {
      this.authenticate(data)
    } else {
      this.early.push(data)
    }
  }

  private authenticate (data: RawData): void {
    clearTimeout(this.authTimer)
    this.authTimer = undefined
    const parsed = parseClientFrame(data.toString())
    if (!parsed.ok || parsed.frame.type !== 'auth') {
      this.socket.close(CloseCodes.authExpected, 'auth_expected')
      return
    }
    let principal: Principal
    try {
      principal = this.relay.tokens.verify((parsed.frame as AuthFrame).token)
    } catch {
      this.socket.close(CloseCodes.authFailed, 'auth_failed')
      return
    }
    if (principal.kind !== 'user') {
      this.socket.close(CloseCodes.userTokenRequired, 'user_token_required')
      return
    }
    void this.begin(principal, (parsed.frame as AuthFrame).after)
  }

  /**
   * Registers the connection, sends `ready`, then either goes live from lastSeq or, with
   * `after`, replays from there first (like a sync), so a resuming device has no window
   * in which a live frame could overtake its backlog.
   */
  private async begin (principal: Principal, after: number | undefined): Promise<void> {
    const { relay } = this
    const connection = new Connection(principal.id, this.socket, relay.store, relay.config.ws.maxBufferedBytes, relay.log)
    this.connection = connection
    this.extend(connection, principal)
    try {
      await relay.register(connection)
      const state = await relay.store.streamState(principal.id)
      connection.send(JSON.stringify({ type: 'ready', userId: principal.id, connectionId: connection.id, lastSeq: state.lastSeq, ackedSeq: state.ackedSeq }))
      if (after === undefined) await connection.start(state.lastSeq)
      else await this.sync(connection, { type: 'sync', after }, state.lastSeq)
    } catch (err) {
      const error = toPublicError(err)
      if (error.statusCode < 500) {
        connection.send(errorFrame(error))
      } else {
        relay.log.error({ err, userId: principal.id }, 'starting a connection failed')
        connection.close(CloseCodes.streamError, 'stream_error')
        return
      }
    }
    const early = this.early ?? []
    this.early = null
    for (const data of early) this.handle(data)
  }

  private onClose (): void {
    clearTimeout(this.authTimer)
    clearTimeout(this.expiryTimer)
    this.typingState?.stopAll()
    if (this.connection !== null) this.relay.unregister(this.connection)
  }

  private handle (data: RawData): void {
    const connection = this.connection as Connection
    const parsed = parseClientFrame(data.toString())
    if (!parsed.ok) {
      connection.send(errorFrame(parsed.error, parsed.ref))
      return
    }
    const frame: ClientFrame = parsed.frame
    switch (frame.type) {
      case 'send': this.send(connection, frame); break
      case 'sync': this.run(connection, this.sync(connection, frame)); break
      case 'ack': this.run(connection, this.ack(connection, frame)); break
      case 'ping': connection.send(PONG_FRAME); break
      case 'typing': this.run(connection, this.typing(connection, frame)); break
      case 'read': this.run(connection, this.read(connection, frame)); break
      case 'watch': this.run(connection, this.relay.watch(connection, frame.users)); break
      case 'unwatch': this.relay.unwatch(connection, frame.users); break
      case 'auth': this.reauthenticate(connection, frame); break
    }
  }

  /** Runs the connection on this principal's token: it closes when the token expires. */
  private extend (connection: Connection, principal: Principal): void {
    connection.sessionId = principal.sessionId
    clearTimeout(this.expiryTimer)
    // setTimeout holds at most about 24.8 days; the longest token TTL is 24 days.
    this.expiryTimer = setTimeout(() => { connection.close(CloseCodes.tokenExpired, 'token_expired') }, Math.max(0, principal.expiresAt - Date.now()))
  }

  /** An auth frame on an open connection: a fresh token of the same user keeps it open longer. */
  private reauthenticate (connection: Connection, frame: AuthFrame): void {
    let principal: Principal
    try {
      principal = this.relay.tokens.verify(frame.token)
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
    this.relay.delivery
      .send({ from: connection.userId, to: frame.to, content: frame.content, clientMsgId: frame.clientMsgId }, connection)
      .catch((err: unknown) => { connection.send(errorFrame(toPublicError(err), frame.clientMsgId)) })
  }

  /** `fallbackCursor`: where a refused resume leaves the connection (at connect only). */
  private async sync (connection: Connection, frame: SyncFrame, fallbackCursor?: number): Promise<void> {
    if (connection.syncing && fallbackCursor === undefined) throw new Errors.SyncInProgress()
    const limit = Math.min(frame.limit ?? DEFAULT_SYNC_LIMIT, this.relay.config.limits.maxSyncPage)
    if (fallbackCursor !== undefined) connection.cursor = fallbackCursor
    const { upTo, more } = await connection.replay(frame.after, limit)
    connection.send(JSON.stringify({ type: 'synced', upTo, more }))
  }

  private async ack (connection: Connection, frame: AckFrame): Promise<void> {
    await this.relay.ack(connection.userId, frame.upTo)
  }

  private async read (connection: Connection, frame: ReadFrame): Promise<void> {
    await this.relay.read(connection.userId, frame.peer, frame.upTo, connection)
  }

  private async typing (connection: Connection, frame: TypingFrame): Promise<void> {
    // Over the limit: dropped without an answer, so a flood costs the peer nothing.
    if (!this.typingLimit.take()) return
    await this.relay.checkRecipient(connection.userId, frame.to)
    this.typingState ??= new TypingState(this.relay.config.ws.typingTimeoutMs, (to, state) => { this.relay.typing(connection.userId, to, state) })
    this.typingState.change(frame.to, frame.state)
  }

  /** Runs a frame's work; its failure becomes an error frame, never a crash. */
  private run (connection: Connection, work: Promise<void>): void {
    work.catch((err: unknown) => {
      const error = toPublicError(err)
      if (error.statusCode >= 500) this.relay.log.error({ err }, 'frame failed')
      connection.send(errorFrame(error))
    })
  }
}
