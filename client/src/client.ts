import type {
  ConversationList, DeletedFrame, EditedFrame, ErrorBody, ErrorFrame, HistoryPage, Message, MessageFrame, Presence, PresenceFrame, ReceiptFrame,
  SentFrame, SentMessage, ServerFrame, TypingEventFrame
} from './protocol.js'
import { MemoryStorage, type Storage } from './storage.js'

/** The part of a WebSocket the client uses: the browser's, Node 22's global one, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number
  send: (data: string) => void
  close: (code?: number, reason?: string) => void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number, reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
}
export type WebSocketConstructor = new (url: string) => WebSocketLike

export interface DuologClientOptions {
  /** The server's base URL: `https://chat.example.com` (WebSocket and REST are derived from it). */
  url: string
  /** A current access token; called again whenever one is needed (each connection, before expiry, after a refusal). */
  token: () => Promise<string>
  /** Needed where there is no global WebSocket (Node 20): pass `ws`'s. */
  WebSocket?: WebSocketConstructor
  /** What must survive a restart: the resume position and unsent messages. In memory by default. */
  storage?: Storage
  /** Backoff between reconnects: a random wait up to min(maxMs, initialMs * 2^attempt). */
  backoff?: { initialMs?: number, maxMs?: number }
  /** How long acknowledgements are gathered before one `ack` goes (ms). */
  ackDelayMs?: number
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** What `send` resolves with: the message as stored. */
export interface SentMessageResult { id: number, seq: number, clientMsgId: string, createdAt: string }

/** A close the client will not retry: a 45xx code, or a token that a fresh one cannot fix. */
export interface ClosedReason { code: number, reason: string }

export interface ClientEvents {
  message: MessageFrame
  /** A message of this user's (sent or received) was edited: `content` is the new one. */
  edited: EditedFrame
  /** A message of this user's was deleted for both users: drop its content. */
  deleted: DeletedFrame
  sent: SentMessageResult
  receipt: ReceiptFrame
  typing: TypingEventFrame
  presence: PresenceFrame
  state: { state: ConnectionState, reason?: ClosedReason }
  error: ErrorFrame | Error
}

/** A send that failed for good (bad input, unknown recipient...): `code` is the server's. */
export class SendError extends Error {
  constructor (readonly code: string, message: string) {
    super(message)
    this.name = 'SendError'
  }
}

/** An HTTP answer that was not 2xx: `code` is the body's `error.code`. */
export class DuologHttpError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
    this.name = 'DuologHttpError'
  }
}

interface Outgoing { to: string, content: string, clientMsgId: string }
interface Pending { resolve: (sent: SentMessageResult) => void, reject: (err: Error) => void }

const OPEN = 1
/** Codes an error frame about a send carries when trying again later can succeed. */
const RETRYABLE = new Set(['rate_limited', 'store_unavailable', 'internal_error'])
const KEY_PROCESSED = 'processed'
const KEY_OUTBOX = 'outbox'
const KEY_DEVICE = 'device'
/** Refresh the token in-band this long before it expires. */
const REFRESH_BEFORE_MS = 60_000

/**
 * A duolog client: one WebSocket that reconnects by itself, resumes where the app left off,
 * and resends what was not yet stored, so that every `send` is stored exactly once and every
 * message reaches the app exactly once, in order.
 */
export class DuologClient {
  private readonly options: Required<Pick<DuologClientOptions, 'url' | 'token' | 'storage'>> & DuologClientOptions
  private readonly listeners = new Map<keyof ClientEvents, Set<(value: any) => void>>()
  private socket: WebSocketLike | null = null
  private state: ConnectionState = 'closed'
  private wanted = false
  private attempt = 0
  private authRefusals = 0
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined
  private refreshTimer: ReturnType<typeof setTimeout> | undefined
  private ackTimer: ReturnType<typeof setTimeout> | undefined
  private processed = 0
  private acked = 0
  private userId: string | undefined
  private deviceId = ''
  private counter = 0
  private outbox: Outgoing[] = []
  private readonly pending = new Map<string, Pending>()
  private loaded: Promise<void> | undefined
  private firstReady: { resolve: () => void, reject: (err: Error) => void } | undefined

  constructor (options: DuologClientOptions) {
    this.options = { ...options, url: options.url.replace(/\/+$/, ''), storage: options.storage ?? new MemoryStorage() }
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends keyof ClientEvents> (event: E, fn: (value: ClientEvents[E]) => void): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) this.listeners.set(event, set = new Set())
    set.add(fn)
    return () => { set.delete(fn) }
  }

  /** The user this client is connected as (known after the first `ready`). */
  get user (): string | undefined {
    return this.userId
  }

  get connectionState (): ConnectionState {
    return this.state
  }

  /** Connects; resolves once the server says `ready`, rejects if the client is closed for good first. */
  async connect (): Promise<void> {
    await this.load()
    if (this.wanted) return
    this.wanted = true
    const ready = new Promise<void>((resolve, reject) => { this.firstReady = { resolve, reject } })
    this.open('connecting')
    await ready
  }

  /** Closes the connection and stops reconnecting. Unsent messages stay in storage for the next connect. */
  close (): void {
    this.wanted = false
    this.stopTimers()
    this.flushAck()
    const socket = this.socket
    this.socket = null
    socket?.close(1000, 'client closed')
    this.setState('closed')
  }

  /**
   * Sends a message; resolves once it is stored. Until then it is kept (in storage) and sent
   * again with the same clientMsgId after every reconnect, so it is stored exactly once.
   */
  async send (to: string, content: string): Promise<SentMessageResult> {
    await this.load()
    const outgoing: Outgoing = { to, content, clientMsgId: `${this.deviceId}-${Date.now().toString(36)}-${(this.counter++).toString(36)}` }
    const result = new Promise<SentMessageResult>((resolve, reject) => { this.pending.set(outgoing.clientMsgId, { resolve, reject }) })
    this.outbox.push(outgoing)
    await this.saveOutbox()
    this.transmit(outgoing)
    return await result
  }

  /** Marks the conversation with `peer` read up to message id `upTo` (the peer gets a read receipt). */
  markRead (peer: string, upTo: number): void {
    this.frame({ type: 'read', peer, upTo })
  }

  typing (peer: string, state: 'start' | 'stop'): void {
    this.frame({ type: 'typing', to: peer, state })
  }

  /** Presence of these users: a `presence` event now and on every change. */
  watch (userIds: string[]): void {
    this.frame({ type: 'watch', users: userIds })
  }

  unwatch (userIds: string[]): void {
    this.frame({ type: 'unwatch', users: userIds })
  }

  // REST helpers, with the same token.

  async history (peer: string, page: { before?: number, after?: number, limit?: number } = {}): Promise<HistoryPage> {
    return await this.rest<HistoryPage>('GET', `/v1/conversations/${encodeURIComponent(peer)}/messages${query(page)}`)
  }

  async conversations (page: { limit?: number, before?: number } = {}): Promise<ConversationList> {
    return await this.rest<ConversationList>('GET', `/v1/conversations${query(page)}`)
  }

  async presence (userId: string): Promise<Presence> {
    return await this.rest<Presence>('GET', `/v1/presence/${encodeURIComponent(userId)}`)
  }

  /** Sends over HTTP (stored before it answers); a retry with the same clientMsgId stores nothing new. */
  async sendHttp (to: string, content: string, clientMsgId?: string): Promise<SentMessage> {
    return await this.rest<SentMessage>('POST', '/v1/messages', { to, content, ...(clientMsgId === undefined ? {} : { clientMsgId }) })
  }

  /** Edits a message this user sent; every device of both users gets `edited`. */
  async editMessage (id: number, content: string): Promise<Message> {
    return await this.rest<Message>('PATCH', `/v1/messages/${id}`, { content })
  }

  /** Deletes a message this user sent, for both users; every device gets `deleted`. */
  async deleteMessage (id: number): Promise<void> {
    await this.rest<undefined>('DELETE', `/v1/messages/${id}`)
  }

  private async rest<T> (method: string, path: string, body?: unknown): Promise<T> {
    const token = await this.options.token()
    const res = await fetch(this.options.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.text()
    const parsed = text === '' ? undefined : JSON.parse(text)
    if (!res.ok) {
      const error = (parsed as ErrorBody | undefined)?.error
      throw new DuologHttpError(res.status, error?.code ?? 'http_error', error?.message ?? `HTTP ${res.status}`)
    }
    return parsed as T
  }

  // The connection.

  private async load (): Promise<void> {
    this.loaded ??= (async () => {
      const { storage } = this.options
      this.processed = Number(await storage.get(KEY_PROCESSED) ?? '0')
      this.acked = this.processed
      this.outbox = JSON.parse(await storage.get(KEY_OUTBOX) ?? '[]') as Outgoing[]
      let device = await storage.get(KEY_DEVICE)
      if (device === undefined) {
        device = Math.random().toString(36).slice(2, 10) + Date.now().toString(36)
        await storage.set(KEY_DEVICE, device)
      }
      this.deviceId = device
    })()
    await this.loaded
  }

  private open (state: 'connecting' | 'reconnecting'): void {
    this.setState(state)
    void this.options.token().then((token) => {
      if (!this.wanted) return
      const Socket = this.options.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket
      if (Socket === undefined) throw new Error('no WebSocket here: pass the `ws` package\'s as the WebSocket option')
      const socket = new Socket(this.options.url.replace(/^http/, 'ws') + '/v1/ws')
      this.socket = socket
      // Browsers cannot set headers on an upgrade: the token goes in the first frame, with the resume position.
      socket.onopen = () => { socket.send(JSON.stringify({ type: 'auth', token, after: this.processed })) }
      socket.onmessage = (event) => { if (this.socket === socket) this.receive(JSON.parse(String(event.data)) as ServerFrame, token) }
      socket.onclose = (event) => { if (this.socket === socket) this.closed(event.code, event.reason) }
      socket.onerror = () => {}
    }).catch((err: unknown) => {
      this.emit('error', err instanceof Error ? err : new Error(String(err)))
      this.retry()
    })
  }

  private receive (frame: ServerFrame, token: string): void {
    switch (frame.type) {
      case 'ready':
        this.userId = frame.userId
        this.attempt = 0
        this.authRefusals = 0
        this.setState('open')
        this.scheduleRefresh(token)
        this.firstReady?.resolve()
        this.firstReady = undefined
        for (const outgoing of this.outbox) this.transmit(outgoing)
        break
      case 'message': this.entry(frame); break
      case 'edited':
      case 'deleted':
        this.change(frame)
        break
      case 'sent': this.stored(frame); break
      case 'synced':
        // A resume that replayed a full page: read on until the end.
        if (frame.more) this.frame({ type: 'sync', after: frame.upTo })
        break
      case 'receipt': this.emit('receipt', frame); break
      case 'typing': this.emit('typing', frame); break
      case 'presence': this.emit('presence', frame); break
      case 'authenticated': this.scheduleRefreshAt(Date.parse(frame.expiresAt)); break
      case 'error': this.refused(frame); break
      case 'pong': break
    }
  }

  /** A stream entry: reaches the app once, in seq order (this connection's are in order already). */
  private entry (frame: MessageFrame): void {
    if (frame.seq <= this.processed) return
    if (frame.seq > this.processed + 1) {
      // Never expected of the server; read the gap rather than skip it.
      this.frame({ type: 'sync', after: this.processed })
      return
    }
    this.advance(frame.seq)
    // This device's own sends are reported by `sent`, not again as messages.
    const own = frame.from === this.userId && frame.clientMsgId?.startsWith(`${this.deviceId}-`) === true
    if (own) {
      if (frame.clientMsgId !== undefined) this.confirm(frame.clientMsgId, { id: frame.id, seq: frame.seq, clientMsgId: frame.clientMsgId, createdAt: frame.createdAt })
    } else {
      this.emit('message', frame)
    }
  }

  /** An edit or deletion: a stream entry like a message, reported once, in seq order. */
  private change (frame: EditedFrame | DeletedFrame): void {
    if (frame.seq <= this.processed) return
    if (frame.seq > this.processed + 1) {
      this.frame({ type: 'sync', after: this.processed })
      return
    }
    this.advance(frame.seq)
    if (frame.type === 'edited') this.emit('edited', frame)
    else this.emit('deleted', frame)
  }

  private stored (frame: SentFrame): void {
    if (frame.seq === this.processed + 1) this.advance(frame.seq)
    if (frame.clientMsgId !== undefined) this.confirm(frame.clientMsgId, { id: frame.id, seq: frame.seq, clientMsgId: frame.clientMsgId, createdAt: frame.createdAt })
  }

  private confirm (clientMsgId: string, result: SentMessageResult): void {
    const index = this.outbox.findIndex((o) => o.clientMsgId === clientMsgId)
    if (index < 0) return
    this.outbox.splice(index, 1)
    void this.saveOutbox()
    const pending = this.pending.get(clientMsgId)
    this.pending.delete(clientMsgId)
    pending?.resolve(result)
    this.emit('sent', result)
  }

  private refused (frame: ErrorFrame): void {
    const outgoing = frame.ref === undefined ? undefined : this.outbox.find((o) => o.clientMsgId === frame.ref)
    if (outgoing === undefined) {
      this.emit('error', frame)
      return
    }
    if (RETRYABLE.has(frame.code)) {
      setTimeout(() => { this.transmit(outgoing) }, frame.retryAfter ?? this.backoffMs())
      return
    }
    this.outbox.splice(this.outbox.indexOf(outgoing), 1)
    void this.saveOutbox()
    const pending = this.pending.get(outgoing.clientMsgId)
    this.pending.delete(outgoing.clientMsgId)
    pending?.reject(new SendError(frame.code, frame.message))
    this.emit('error', frame)
  }

  private advance (seq: number): void {
    this.processed = seq
    void this.options.storage.set(KEY_PROCESSED, String(seq))
    this.ackTimer ??= setTimeout(() => { this.flushAck() }, this.options.ackDelayMs ?? 200)
  }

  private flushAck (): void {
    clearTimeout(this.ackTimer)
    this.ackTimer = undefined
    if (this.processed <= this.acked) return
    if (this.frame({ type: 'ack', upTo: this.processed })) this.acked = this.processed
  }

  private closed (code: number, reason: string): void {
    this.socket = null
    clearTimeout(this.refreshTimer)
    if (!this.wanted) return
    // A refused token: one fresh token may fix it; a second refusal in a row will not.
    if (code === 4500 && ++this.authRefusals < 2) {
      this.retry()
      return
    }
    if (code >= 4500 && code < 5000) {
      this.terminal({ code, reason })
      return
    }
    this.retry()
  }

  private terminal (why: ClosedReason): void {
    this.wanted = false
    this.stopTimers()
    this.setState('closed', why)
    this.firstReady?.reject(new Error(`closed by the server: ${why.code} ${why.reason}`))
    this.firstReady = undefined
  }

  private retry (): void {
    if (!this.wanted) return
    this.setState('reconnecting')
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = setTimeout(() => { this.open('reconnecting') }, this.backoffMs())
    this.attempt++
  }

  /** Full jitter: a random wait up to the exponential bound. */
  private backoffMs (): number {
    const initial = this.options.backoff?.initialMs ?? 500
    const max = this.options.backoff?.maxMs ?? 30_000
    return Math.random() * Math.min(max, initial * 2 ** this.attempt)
  }

  private scheduleRefresh (token: string): void {
    const exp = tokenExpiry(token)
    if (exp !== undefined) this.scheduleRefreshAt(exp)
  }

  /** Sends a fresh token in-band a minute (or a fifth of what is left) before this one expires. */
  private scheduleRefreshAt (expiresAt: number): void {
    clearTimeout(this.refreshTimer)
    const left = expiresAt - Date.now()
    const wait = Math.max(0, left - Math.min(REFRESH_BEFORE_MS, left / 5))
    this.refreshTimer = setTimeout(() => {
      void this.options.token().then((token) => { this.frame({ type: 'auth', token }) }, (err: unknown) => {
        this.emit('error', err instanceof Error ? err : new Error(String(err)))
      })
    }, wait)
  }

  private transmit (outgoing: Outgoing): void {
    this.frame({ type: 'send', to: outgoing.to, content: outgoing.content, clientMsgId: outgoing.clientMsgId })
  }

  /** Sends a frame if the connection is open; false when it is not (sends wait in the outbox). */
  private frame (frame: Record<string, unknown>): boolean {
    const socket = this.socket
    if (socket === null || socket.readyState !== OPEN || this.state !== 'open') return false
    socket.send(JSON.stringify(frame))
    return true
  }

  private async saveOutbox (): Promise<void> {
    await this.options.storage.set(KEY_OUTBOX, JSON.stringify(this.outbox))
  }

  private stopTimers (): void {
    clearTimeout(this.reconnectTimer)
    clearTimeout(this.refreshTimer)
  }

  private setState (state: ConnectionState, reason?: ClosedReason): void {
    if (this.state === state && reason === undefined) return
    this.state = state
    this.emit('state', reason === undefined ? { state } : { state, reason })
  }

  private emit<E extends keyof ClientEvents> (event: E, value: ClientEvents[E]): void {
    for (const fn of this.listeners.get(event) ?? []) fn(value)
  }
}

function query (params: Record<string, number | undefined>): string {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined)
  return entries.length === 0 ? '' : '?' + entries.map(([k, v]) => `${k}=${String(v)}`).join('&')
}

/** A JWT's `exp` in ms, read without checking (the server checks). */
function tokenExpiry (token: string): number | undefined {
  try {
    const payload = token.split('.')[1] ?? ''
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'))
    const exp = (JSON.parse(json) as { exp?: unknown }).exp
    return typeof exp === 'number' ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}
