import { randomUUID } from 'node:crypto'
import { readStreamPage, type StreamEntry, type StreamReader } from '../store/store.js'
import type { Log } from '../log.js'
import { entryFrame } from './frames.js'
import { Disconnect } from './disconnect.js'
import type { Transport } from './transport.js'
import { Errors } from '../errors.js'

const SLOW_CONSUMER_GRACE_MS = 1000
/** Entries read and sent in one go when replaying a page. */
const REPLAY_CHUNK = 100

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

export interface ConnectionOptions {
  /** The socket's id, as its log lines name it (generated when not given). */
  id?: string
  userId: string
  transport: Transport
  /** Where entries the connection missed live are read from. */
  stream: StreamReader
  /** Unsent bytes past which the client is cut as a slow consumer. */
  maxBufferedBytes: number
  /** Counts the message frames this connection is sent (live and replayed). */
  delivered?: { inc: () => void }
  log: Log
}

/**
 * One authenticated WebSocket of a user, and its position in the user's stream.
 *
 * Guarantee: the `message` and `sent` frames this connection receives carry strictly
 * increasing seqs with no gap (except that `sent` replies are always sent, even out of
 * band). Whatever it misses live (a gap, a sync running) is read from the store.
 */
export class Connection {
  readonly id: string
  readonly userId: string
  /** The highest seq this connection has been sent. */
  cursor = 0
  /** The login session of the token this connection runs on (changes with an in-band auth). */
  sessionId: string | null = null
  private mode: Mode = 'busy'
  private pending: Offer[] = []
  private readonly transport: Transport
  private readonly stream: StreamReader
  private readonly maxBufferedBytes: number
  private readonly log: Log
  private readonly delivered: { inc: () => void } | undefined

  constructor (options: ConnectionOptions) {
    this.delivered = options.delivered
    this.id = options.id ?? randomUUID()
    this.userId = options.userId
    this.transport = options.transport
    this.stream = options.stream
    this.maxBufferedBytes = options.maxBufferedBytes
    this.log = options.log
  }

  get open (): boolean {
    return this.transport.open
  }

  get syncing (): boolean {
    return this.mode === 'busy'
  }

  /** Sends a frame unless the client cannot keep up, in which case it must reconnect and sync. */
  send (frame: string): void {
    if (!this.transport.open) return
    if (this.transport.bufferedAmount > this.maxBufferedBytes) {
      this.close(Disconnect.slowConsumer)
      // The close frame waits behind the unread backlog; do not wait for it for long.
      setTimeout(() => { this.transport.terminate() }, SLOW_CONSUMER_GRACE_MS).unref()
      return
    }
    this.transport.send(frame)
  }

  close (disconnect: Disconnect): void {
    this.transport.close(disconnect)
  }

  terminate (): void {
    this.transport.terminate()
  }

  ping (): void {
    this.transport.ping()
  }

  /** A stream entry of this connection's user, sent in order or read later from the store. */
  offer (seq: number, frame: string, reply = false): void {
    if (this.mode === 'live' && seq <= this.cursor + 1) {
      // The next entry goes out; an older one was already sent (a duplicate), unless it is a reply.
      if (seq === this.cursor + 1) this.cursor = seq
      else if (!reply) return
      this.sendOffered(frame, reply)
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
    let page: { entries: StreamEntry[], more: boolean }
    try {
      page = await readStreamPage(this.stream, this.userId, after, Math.min(limit, REPLAY_CHUNK))
    } catch (err) {
      if (err instanceof Errors.InvalidCursor) {
        // Refused before touching the stream: carry on as before.
        if (wasPaused) this.pauseDroppingPending()
        else await this.catchUp()
        throw err
      }
      // The stream position is unknown now: the client must reconnect and sync.
      this.close(Disconnect.streamError)
      throw err
    }
    this.cursor = after
    let sent = 0
    try {
      // A large page goes out in chunks with a turn of the event loop between them, so that
      // one device catching up does not hold up everyone else's frames for long.
      for (;;) {
        for (const entry of page.entries) this.sendEntry(entry)
        sent += page.entries.length
        if (!page.more || sent >= limit || !this.open) break
        await new Promise((resolve) => setImmediate(resolve))
        page = await readStreamPage(this.stream, this.userId, this.cursor, Math.min(limit - sent, REPLAY_CHUNK))
      }
    } catch (err) {
      this.close(Disconnect.streamError)
      throw err
    }
    const { more } = page
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

  /** A reply is this connection's own `sent`; anything else offered is a `message` delivered. */
  private sendOffered (frame: string, reply: boolean): void {
    this.send(frame)
    if (!reply) this.delivered?.inc()
  }

  private sendEntry (entry: StreamEntry): void {
    this.send(entryFrame(entry))
    if (entry.kind === 'message') this.delivered?.inc()
    this.cursor = entry.seq
  }

  /** Sends pending offers in seq order, reading any gap from the store; then goes live. */
  private async catchUp (): Promise<void> {
    this.mode = 'busy'
    try {
      // Offers that arrive while this awaits are pending too: loop until none is left.
      while (this.pending.length > 0 && this.open) await this.sendPending()
    } catch (err) {
      this.log.error({ err, userId: this.userId, connectionId: this.id }, 'reading the stream failed; closing the connection')
      this.close(Disconnect.streamError)
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
        this.sendOffered(next.frame, next.reply)
        continue
      }
      const gap = await this.stream.readStream(this.userId, this.cursor, next.seq - 1 - this.cursor)
      for (const entry of gap) this.sendEntry(entry)
      if (gap.length === 0) {
        // Cannot happen with a store that keeps its guarantee; never spin on it.
        this.log.error({ userId: this.userId, connectionId: this.id, cursor: this.cursor, next: next.seq }, 'stream gap not found in the store')
        this.cursor = next.seq - 1
      }
    }
  }
}
