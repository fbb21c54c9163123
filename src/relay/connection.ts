import { randomUUID } from 'node:crypto'
import type { WebSocket } from 'ws'
import type { FastifyBaseLogger } from 'fastify'
import { readStreamPage, seqFor, type Store, type StoredMessage } from '../store/store.js'
import { messageFrame } from './frames.js'
import { CloseCodes } from './close-codes.js'
import { Errors } from '../errors.js'

const SLOW_CONSUMER_GRACE_MS = 1000

interface Offer {
  seq: number
  frame: string
  /** A reply to this connection (`sent`): sent even when it does not advance the cursor. */
  reply: boolean
}

/**
 * - live: stream entries flow as they are offered, in seq order.
 * - busy: reading from the store (start, sync, gap fill); offers wait in `pending`.
 * - paused: the last sync answered more=true; offers are dropped (they are in the store)
 *   until the client syncs to the end.
 */
type Mode = 'live' | 'busy' | 'paused'

/**
 * One authenticated WebSocket of a user, and its position in the user's stream.
 *
 * Guarantee: the `message` and `sent` frames this connection receives carry strictly
 * increasing seqs with no gap (except that `sent` replies are always sent, even out of
 * band). Whatever it misses live (a gap, a sync running) is read from the store.
 */
export class Connection {
  readonly id = randomUUID()
  /** The highest seq this connection has been sent. */
  cursor = 0
  /** Set by a pong or any frame; cleared by each heartbeat. */
  alive = true
  /** The login session of the token this connection runs on (changes with an in-band auth). */
  sessionId: string | null = null
  /** Users whose presence this connection watches. */
  readonly watching = new Set<string>()
  private mode: Mode = 'busy'
  private pending: Offer[] = []

  constructor (
    readonly userId: string,
    private readonly socket: WebSocket,
    private readonly store: Store,
    private readonly maxBufferedBytes: number,
    private readonly log: FastifyBaseLogger
  ) {}

  get open (): boolean {
    return this.socket.readyState === this.socket.OPEN
  }

  get syncing (): boolean {
    return this.mode === 'busy'
  }

  /** Sends a frame unless the client cannot keep up, in which case it must reconnect and sync. */
  send (frame: string): void {
    if (!this.open) return
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.close(CloseCodes.slowConsumer, 'slow_consumer')
      // The close frame waits behind the unread backlog; do not wait for it for long.
      setTimeout(() => { this.socket.terminate() }, SLOW_CONSUMER_GRACE_MS).unref()
      return
    }
    this.socket.send(frame)
  }

  close (code: number, reason: string): void {
    if (this.open) this.socket.close(code, reason)
  }

  terminate (): void {
    this.socket.terminate()
  }

  ping (): void {
    if (this.open) this.socket.ping()
  }

  /** A stream entry of this connection's user, sent in order or read later from the store. */
  offer (seq: number, frame: string, reply = false): void {
    if (this.mode === 'live' && seq <= this.cursor + 1) {
      // The next entry goes out; an older one was already sent (a duplicate), unless it is a reply.
      if (seq === this.cursor + 1) this.cursor = seq
      else if (!reply) return
      this.send(frame)
      return
    }
    if (this.mode === 'paused') {
      if (reply) this.send(frame)
      return
    }
    this.pending.push({ seq, frame, reply })
    if (this.mode === 'live') void this.catchUp()
  }

  /** Goes live from `lastSeq`: entries after it flow; what was offered meanwhile is kept. */
  async start (lastSeq: number): Promise<void> {
    this.cursor = lastSeq
    await this.catchUp()
  }

  /**
   * Replays the stream after `after` (at most `limit` entries), then goes live if that
   * reached the end, or pauses if there is more. Refuses a cursor beyond the stream's end.
   */
  async replay (after: number, limit: number): Promise<{ upTo: number, more: boolean }> {
    const wasPaused = this.mode === 'paused'
    this.mode = 'busy'
    let page: { messages: StoredMessage[], more: boolean }
    try {
      page = await readStreamPage(this.store, this.userId, after, limit)
    } catch (err) {
      if (err instanceof Errors.InvalidCursor) {
        // Refused before touching the stream: carry on as before.
        if (wasPaused) this.pauseDroppingPending()
        else await this.catchUp()
        throw err
      }
      // The stream position is unknown now: the client must reconnect and sync.
      this.close(CloseCodes.streamError, 'stream_error')
      throw err
    }
    const { more } = page
    this.cursor = after
    for (const message of page.messages) this.sendEntry(message)
    const upTo = this.cursor
    if (more) this.pauseDroppingPending()
    else await this.catchUp()
    return { upTo, more }
  }

  private pauseDroppingPending (): void {
    this.mode = 'paused'
    for (const offer of this.pending) if (offer.reply) this.send(offer.frame)
    this.pending = []
  }

  private sendEntry (message: StoredMessage): void {
    const seq = seqFor(message, this.userId)
    this.send(messageFrame(message, seq))
    this.cursor = seq
  }

  /** Sends pending offers in seq order, reading any gap from the store; then goes live. */
  private async catchUp (): Promise<void> {
    this.mode = 'busy'
    try {
      // Offers that arrive while this awaits are pending too: loop until none is left.
      while (this.pending.length > 0 && this.open) await this.sendPending()
    } catch (err) {
      this.log.error({ err, userId: this.userId }, 'reading the stream failed; closing the connection')
      this.close(CloseCodes.streamError, 'stream_error')
    }
    this.mode = 'live'
  }

  private async sendPending (): Promise<void> {
    while (this.pending.length > 0 && this.open) {
      this.pending.sort((a, b) => a.seq - b.seq)
      const next = this.pending[0] as Offer
      if (next.seq <= this.cursor + 1) {
        this.pending.shift()
        if (next.seq === this.cursor + 1) this.cursor = next.seq
        else if (!next.reply) continue
        this.send(next.frame)
        continue
      }
      const gap = await this.store.readStream(this.userId, this.cursor, next.seq - 1 - this.cursor)
      for (const message of gap) this.sendEntry(message)
      if (gap.length === 0) {
        // Cannot happen with a store that keeps its guarantee; never spin on it.
        this.log.error({ userId: this.userId, cursor: this.cursor, next: next.seq }, 'stream gap not found in the store')
        this.cursor = next.seq - 1
      }
    }
  }
}
