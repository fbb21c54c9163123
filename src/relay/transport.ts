import type { Disconnect } from './disconnect.js'

/**
 * The socket a connection writes to: the narrow part of a WebSocket the relay uses.
 * ws-transport.ts adapts a `ws` WebSocket; unit tests use a fake one.
 */
export interface Transport {
  /** Whether frames can still be sent (not closing or closed). */
  readonly open: boolean
  /** Bytes sent but not yet handed to the network. */
  readonly bufferedAmount: number
  send (frame: string): void
  /** Starts the closing handshake with this code and reason; nothing if not open. */
  close (disconnect: Disconnect): void
  /** Drops the socket at once, without a closing handshake. */
  terminate (): void
  ping (): void
  /** Stops reading the client's frames for `ms` (those already received are still handled). */
  pause (ms: number): void
}

/** What a socket tells its handler (SocketHandler): a text frame, a pong, the end. */
export interface TransportEvents {
  receive (text: string): void
  pong (): void
  /** The socket closed, with this close code (1006 when the network dropped it). */
  closed (code: number): void
}
