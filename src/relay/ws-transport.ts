import type { WebSocket } from 'ws'
import type { Disconnect } from './disconnect.js'
import type { Transport, TransportEvents } from './transport.js'

/** A `ws` WebSocket as a Transport. */
export class WsTransport implements Transport {
  constructor (private readonly socket: WebSocket) {}

  get open (): boolean {
    return this.socket.readyState === this.socket.OPEN
  }

  get bufferedAmount (): number {
    return this.socket.bufferedAmount
  }

  send (frame: string): void {
    this.socket.send(frame)
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
