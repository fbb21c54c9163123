import type { NewMessage, Store, StoredMessage } from '../store/store.js'
import { Errors, rateLimited } from '../errors.js'
import { KeyedLimits } from '../limits.js'
import type { Connection } from './connection.js'
import { sentFrame } from './frames.js'
import type { Log } from '../log.js'
import type { Metrics } from '../metrics.js'

/** Hands a stored message to every device of both users (Hub.publish does it over the bus). */
export type FanOut = (message: StoredMessage, origin: Connection | undefined) => void

export interface SendRequest {
  from: string
  to: string
  content: string
  clientMsgId?: string | undefined
  /** Sent by a service as `from`: not counted against that user's send rate. */
  onBehalf?: boolean
}

export interface SendResult {
  message: StoredMessage
  /** true when this was a retry of a clientMsgId already stored: nothing new was stored. */
  duplicate: boolean
}

/**
 * How a send ends, told exactly once: stored (or found stored already: a retry), or refused.
 * Called from the commit's loop, so neither may throw.
 */
export interface SendOutcome {
  stored: (result: SendResult) => void
  /** `clientMsgId`: the refused send's, if it had one. */
  refused: (err: Error, clientMsgId: string | undefined) => void
}

interface Queued {
  message: NewMessage
  origin: Connection | undefined
  outcome: SendOutcome
}

// Most text has no surrogate at all: the cheap test first.
const SURROGATE = /[\ud800-\udfff]/
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Refuses text that a store cannot keep exactly as sent, before it joins a batch: U+0000, and
 * lone surrogates (stored as U+FFFD, so a retry would no longer match its original).
 */
function checkStorable (field: string, text: string): void {
  // PostgreSQL's text cannot hold U+0000; refused everywhere, so that the stores agree.
  if (text.includes('\u0000')) throw new Errors.InvalidRequest(`${field} must not contain U+0000`)
  if (SURROGATE.test(text) && LONE_SURROGATE.test(text)) throw new Errors.InvalidRequest(`${field} must be well-formed Unicode: it has a lone surrogate`)
}

/** A message's content, sent or edited: not empty, storable, at most maxLength code points. */
export function checkContent (content: string, maxLength: number): void {
  if (content.length === 0) throw new Errors.InvalidRequest('content must not be empty')
  checkStorable('content', content)
  // Code points, not UTF-16 units; only counted when the cheap bound is exceeded.
  if (content.length > maxLength && [...content].length > maxLength) throw new Errors.ContentTooLong(maxLength)
}

/** Sends per commit: big enough to amortize a commit, small enough to keep latency flat. */
const MAX_BATCH = 256

/**
 * The one path every message takes, whether it came over HTTP or WebSocket:
 * validate, store (group commit), then fan out to every device of both users.
 *
 * Guarantee: send() resolves only after the message is durably stored; fan-out to
 * connected devices happens after the commit, in seq order per user.
 */
export class Delivery {
  private queue: Queued[] = []
  private scheduled = false
  private flushing = false

  constructor (
    private readonly store: Store,
    private readonly fanOut: FanOut,
    private readonly maxContentLength: number,
    /** Each user's send rate: messages per second sustained, and at once. */
    private readonly sendLimits: KeyedLimits,
    private readonly metrics: Pick<Metrics, 'messagesStored' | 'sendToStore' | 'storeCommit' | 'batchSize' | 'limited'>,
    private readonly log: Log
  ) {}

  /**
   * Stores and delivers a message. `origin` is the connection that sent it, if any:
   * it gets `sent` (in its stream order) instead of a `message` frame.
   */
  send (request: SendRequest, origin?: Connection): Promise<SendResult> {
    return new Promise((resolve, reject) => { this.submit(request, origin, { stored: resolve, refused: reject }) })
  }

  /**
   * send() for a caller that sends many (a WebSocket): `outcome` is told how it ended, with
   * no promise per message. A send refused before it is queued is told at once.
   */
  submit (request: SendRequest, origin: Connection | undefined, outcome: SendOutcome): void {
    try {
      this.validate(request)
      // Refused before it is queued: a refused send is not accepted, so nothing accepted is dropped.
      const wait = request.onBehalf === true ? 0 : this.sendLimits.take(request.from)
      if (wait > 0) {
        this.metrics.limited('send')
        throw rateLimited(wait)
      }
    } catch (err) {
      outcome.refused(err as Error, request.clientMsgId)
      return
    }
    this.queue.push({
      message: { from: request.from, to: request.to, content: request.content, clientMsgId: request.clientMsgId ?? null, createdAt: Date.now() },
      origin,
      outcome
    })
    if (!this.scheduled && !this.flushing) {
      this.scheduled = true
      // Everything received in this turn of the event loop goes into one commit.
      setImmediate(() => { void this.flush() })
    }
  }

  private validate (request: SendRequest): void {
    if (request.to === request.from) throw new Errors.InvalidRecipient('a message goes to another user, not to its sender')
    checkContent(request.content, this.maxContentLength)
    if (request.clientMsgId !== undefined) checkStorable('clientMsgId', request.clientMsgId)
  }

  /** Never rejects: a failed commit rejects its sends, and the next batch still goes. */
  private async flush (): Promise<void> {
    this.scheduled = false
    this.flushing = true
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.length <= MAX_BATCH ? this.queue : this.queue.slice(0, MAX_BATCH)
        this.queue = this.queue.length <= MAX_BATCH ? [] : this.queue.slice(MAX_BATCH)
        await this.commit(batch)
      }
    } finally {
      this.flushing = false
    }
  }

  private async commit (batch: Queued[]): Promise<void> {
    let outcomes
    const started = performance.now()
    try {
      outcomes = await this.store.appendMessages(batch.map((q) => q.message))
    } catch (err) {
      this.log.error({ err, size: batch.length }, 'storing a batch of messages failed')
      for (const q of batch) refuse(q, new Errors.StoreUnavailable())
      return
    }
    const committed = Date.now()
    this.metrics.storeCommit.observe((performance.now() - started) / 1000)
    this.metrics.batchSize.observe(batch.length)
    batch.forEach((q, i) => {
      const outcome = outcomes[i]
      switch (outcome?.status) {
        case 'stored':
          this.metrics.messagesStored.inc()
          this.metrics.sendToStore.observe((committed - q.message.createdAt) / 1000)
          try {
            this.fanOut(outcome.message, q.origin)
          } catch (err) {
            // Stored is stored: devices that missed it get it on their next sync.
            this.log.error({ err, id: outcome.message.id }, 'fan-out failed')
          }
          q.outcome.stored({ message: outcome.message, duplicate: false })
          break
        case 'duplicate':
          q.origin?.send(sentFrame(outcome.message))
          q.outcome.stored({ message: outcome.message, duplicate: true })
          break
        case 'conflict':
          refuse(q, new Errors.IdempotencyConflict(q.message.clientMsgId))
          break
        case 'unknown_recipient':
          refuse(q, new Errors.UnknownRecipient(q.message.to))
          break
        case 'unknown_sender':
          refuse(q, new Errors.UnknownUser(q.message.from))
          break
        default:
          refuse(q, new Errors.StoreUnavailable())
      }
    })
  }
}

function refuse (q: Queued, err: Error): void {
  q.outcome.refused(err, q.message.clientMsgId ?? undefined)
}
