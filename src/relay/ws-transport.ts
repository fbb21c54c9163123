import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import type { Disconnect } from './disconnect.js'
import type { Transport, TransportEvents } from './transport.js'

/** Frames held by one cork at most: a long batch goes out in pieces, not all at the end. */
const MAX_CORKED_FRAMES = 64

/** The transports corked in this synchronous run: one tick at its end uncorks them all. */
let corkedTransports: WsTransport[] = []

function uncorkAll (): void {
  const transports = corkedTransports
  // Swapped first: a frame sent while uncorking corks its socket again, for the next tick.
  corkedTransports = []
  for (const transport of transports) transport.uncork()
}

/**
 * A `ws` WebSocket as a Transport. Frames sent in one synchronous run (the fan-out of a commit
 * batch, an `ack`'s receipts) are corked on the TCP socket and written together when the run
 * ends: one system call for many frames instead of one each, and one tick for every socket.
 * The frames of the run itself are left out of bufferedAmount (they go out at its end), so
 * the slow-consumer check still sees only what a client has not read.
 */
export class WsTransport implements Transport {
  /** ws's TCP socket (not part of its typed API, hence looked up once and checked). */
  private readonly tcp: Socket | undefined
  private corked = 0
  /** Bytes of the frames corked in this run (about: UTF-8 length without frame headers). */
  private corkedBytes = 0

  constructor (private readonly socket: WebSocket) {
    const tcp = (socket as unknown as { _socket?: Socket })._socket
    this.tcp = typeof tcp?.cork === 'function' ? tcp : undefined
  }

  get open (): boolean {
    return this.socket.readyState === this.socket.OPEN
  }

  get bufferedAmount (): number {
    return Math.max(0, this.socket.bufferedAmount - this.corkedBytes)
  }

  send (frame: string): void {
    const tcp = this.tcp
    if (tcp !== undefined) {
      if (this.corked === 0) {
        tcp.cork()
        if (corkedTransports.push(this) === 1) process.nextTick(uncorkAll)
      } else if (this.corked >= MAX_CORKED_FRAMES) {
        // Still in corkedTransports: the tick uncorks what is corked from here on.
        this.uncork()
        tcp.cork()
      }
      this.corked++
      this.corkedBytes += Buffer.byteLength(frame)
    }
    this.socket.send(frame)
  }

  /** Writes the frames corked so far (at the end of the run, or at MAX_CORKED_FRAMES). */
  uncork (): void {
    if (this.corked === 0) return
    this.corked = 0
    this.corkedBytes = 0
    this.tcp?.uncork()
  }

  close (disconnect: Disconnect): void {
    if (!this.open) return
    this.socket.close(disconnect.code, disconnect.reason)
    // The closing handshake needs the client's answer: a paused socket would never read it.
    if (this.socket.isPaused) this.socket.resume()
  }

  terminate (): void {
    this.socket.terminate()
  }

  ping (): void {
    if (this.open) this.socket.ping()
  }

  pause (ms: number): void {
    if (!this.open || this.socket.isPaused) return
    this.socket.pause()
    // Also while closing: the closing handshake needs the client's answer.
    setTimeout(() => { if (this.socket.readyState !== this.socket.CLOSED) this.socket.resume() }, ms).unref()
  }
}

/**
 * Hands a WebSocket to the handler `open` makes for it. The listeners are attached in the
 * same turn as the upgrade, so that no frame is missed.
 */
export function attachWebSocket (socket: WebSocket, open: (transport: Transport) => TransportEvents): void {
  const events = open(new WsTransport(socket))
  socket.on('message', (data) => { events.receive(data.toString()) })
  socket.on('pong', () => { events.pong() })
  socket.on('close', (code) => { events.closed(code) })
}
