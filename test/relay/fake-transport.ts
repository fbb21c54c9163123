import type { Disconnect } from '../../src/relay/disconnect.js'
import type { Transport } from '../../src/relay/transport.js'
import type { Frame } from '../helpers.js'

/** A socket for unit tests: records what the relay sends, and how it closes. */
export class FakeTransport implements Transport {
  open = true
  bufferedAmount = 0
  readonly sent: string[] = []
  closedWith: Disconnect | undefined
  terminated = false
  pings = 0
  /** Each pause(ms) the relay asked for. */
  readonly pauses: number[] = []

  send (frame: string): void {
    if (!this.open) throw new Error('sent on a closed socket')
    this.sent.push(frame)
  }

  close (disconnect: Disconnect): void {
    if (!this.open) return
    this.open = false
    this.closedWith = disconnect
  }

  terminate (): void {
    this.open = false
    this.terminated = true
  }

  ping (): void {
    this.pings++
  }

  pause (ms: number): void {
    this.pauses.push(ms)
  }

  frames (): Frame[] {
    return this.sent.map((text) => JSON.parse(text))
  }

  /** The seq of each message or sent frame, in the order they went out. */
  seqs (): number[] {
    return this.frames().filter((f) => f.type === 'message' || f.type === 'sent').map((f) => f.seq)
  }
}
