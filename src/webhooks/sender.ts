import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { Webhook } from 'standardwebhooks'
import type { Log } from '../log.js'
import { RETRY_WINDOW_MS, retryDelayMs, type Attempt, type AttemptOutcome, type ClaimedEvent, type OutboxStore } from '../store/outbox.js'

export interface WebhookSenderOptions {
  url: string
  /** `whsec_...` */
  secret: string
  outbox: OutboxStore
  log: Log
  /** Counts attempts by result (delivered, failed, skipped). */
  attempted?: (result: AttemptOutcome['status']) => void
  /** The longest an attempt may take before it counts as failed (5 s). */
  timeoutMs?: number
  /** How often the outbox is read when nothing is due (100 ms). */
  pollMs?: number
  /** Attempts in flight at once (16). */
  concurrency?: number
}

/** A claim outlives any attempt (timeout 5 s): only an instance that died leaves one to expire. */
const LEASE_MS = 15_000
/** After a failed read of the outbox (the store is down), the next try. */
const STORE_RETRY_MS = 1000
/** Delivered and skipped events are kept this long (to be listed), failed ones for 7 days. */
const KEEP_DELIVERED_MS = 3600_000
const KEEP_FAILED_MS = 7 * 24 * 3600_000
const PRUNE_EVERY_MS = 60_000
/** An answer's body is not read; only this much of an error goes into the record. */
const MAX_ERROR_LENGTH = 300
/** Attempts that end meanwhile are recorded together, in one commit, after this wait. */
const RECORD_DELAY_MS = 10
/**
 * After this many failures in a row the receiver looks down: no new attempt for a while
 * (1 s, doubling up to a minute), so that a dead receiver costs a few attempts a minute, not
 * one per event. Each event keeps its own backoff too.
 */
const FAILURES_BEFORE_PAUSE = 10
const MAX_PAUSE_MS = 60_000

/**
 * Sends the outbox's events to the webhook URL, signed per Standard Webhooks, in the
 * background: at least once (an event is finished only after a 2xx), in per-user order (the
 * outbox hands out an event only after its predecessors finished), retried with exponential
 * backoff for 24 hours. It shares nothing with the delivery path but the store: a receiver
 * that hangs or fails only fills its own few slots (`concurrency`), each freed after
 * `timeoutMs`.
 */
export class WebhookSender {
  private readonly signer: Webhook
  private readonly target: URL
  /** Connections to the receiver are kept open between attempts, one per attempt in flight at most. */
  private readonly agent: HttpAgent
  private readonly timeoutMs: number
  private readonly pollMs: number
  private readonly concurrency: number
  private readonly inFlight = new Set<Promise<void>>()
  private timer: NodeJS.Timeout | undefined
  private dueAt = Infinity
  private running = false
  private reading = false
  private lastPrune = 0
  /** Attempts made and not yet recorded. */
  private finished: Attempt[] = []
  private failuresInARow = 0
  private pausedUntil = 0

  constructor (private readonly options: WebhookSenderOptions) {
    this.signer = new Webhook(options.secret)
    this.timeoutMs = options.timeoutMs ?? 5000
    this.pollMs = options.pollMs ?? 100
    this.concurrency = options.concurrency ?? 16
    this.target = new URL(options.url)
    const agentOptions = { keepAlive: true, maxSockets: this.concurrency, maxFreeSockets: this.concurrency }
    this.agent = this.target.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions)
  }

  start (): void {
    this.running = true
    this.schedule(0)
  }

  /** Stops claiming; waits for the attempts in flight (each ends within timeoutMs) and records them. */
  async stop (): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    await Promise.all(this.inFlight)
    await this.record().catch((err: unknown) => { this.options.log.warn({ err }, 'webhooks: recording attempts failed (they are made again)') })
    this.agent.destroy()
  }

  /** Runs a tick after delayMs, unless one is due sooner already. */
  private schedule (delayMs: number): void {
    if (!this.running) return
    const at = Date.now() + delayMs
    if (this.timer !== undefined && this.dueAt <= at) return
    clearTimeout(this.timer)
    this.dueAt = at
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.dueAt = Infinity
      void this.tick()
    }, delayMs)
    this.timer.unref()
  }

  private async tick (): Promise<void> {
    if (!this.running || this.reading) return
    this.reading = true
    let next = this.pollMs
    try {
      await this.record()
      await this.prune()
      const free = this.concurrency - this.inFlight.size
      const pause = this.pausedUntil - Date.now()
      if (pause > 0) {
        next = Math.max(next, pause)
      } else if (free > 0) {
        const claimed = await this.options.outbox.claimEvents(Date.now(), free, LEASE_MS)
        for (const event of claimed) this.launch(event)
        // A full batch: more may be due at once.
        if (claimed.length === free) next = 0
      }
    } catch (err) {
      this.options.log.warn({ err }, 'webhooks: reading the outbox failed; trying again')
      next = STORE_RETRY_MS
    } finally {
      this.reading = false
    }
    this.schedule(next)
  }

  private launch (event: ClaimedEvent): void {
    const attempt = this.attempt(event)
      .then((outcome) => { this.ended(event, outcome) })
      .catch((err: unknown) => { this.options.log.warn({ err, event: event.uid }, 'webhooks: an attempt failed unexpectedly (the event is tried again when its claim ends)') })
      .finally(() => {
        this.inFlight.delete(attempt)
        // Record it soon (with the others that end meanwhile): an event that waited for it may be due then.
        this.schedule(RECORD_DELAY_MS)
      })
    this.inFlight.add(attempt)
  }

  private ended (event: ClaimedEvent, outcome: AttemptOutcome): void {
    this.options.attempted?.(outcome.status)
    if (outcome.status === 'failed') {
      this.options.log.warn({ event: event.uid, type: event.type, attempts: event.attempts + 1, status: outcome.httpStatus, error: outcome.error, retryAt: outcome.retryAt },
        outcome.retryAt === null ? 'webhooks: gave up on an event' : 'webhooks: an attempt failed; will retry')
      if (++this.failuresInARow >= FAILURES_BEFORE_PAUSE) {
        const pause = Math.min(1000 * 2 ** (this.failuresInARow - FAILURES_BEFORE_PAUSE), MAX_PAUSE_MS)
        this.pausedUntil = Date.now() + pause
      }
    } else if (outcome.status === 'delivered') {
      this.failuresInARow = 0
    }
    this.finished.push({ id: event.id, outcome })
  }

  /** Records the attempts that ended since the last time, in one commit. */
  private async record (): Promise<void> {
    if (this.finished.length === 0) return
    const batch = this.finished
    this.finished = []
    try {
      await this.options.outbox.recordAttempts(batch)
    } catch (err) {
      // Kept for the next try; should the process die first, the claims end and the events are sent again.
      this.finished = batch.concat(this.finished)
      throw err
    }
  }

  private async attempt (event: ClaimedEvent): Promise<AttemptOutcome> {
    if (event.type === 'message.undelivered' && event.messageId !== null && await this.options.outbox.messageAcknowledged(event.messageId)) {
      return { status: 'skipped', at: Date.now() }
    }
    const payload = `{"type":${JSON.stringify(event.type)},"timestamp":${JSON.stringify(new Date(event.createdAt).toISOString())},"data":${event.data}}`
    const sentAt = new Date()
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'duolog-webhooks',
      'webhook-id': event.uid,
      'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
      'webhook-signature': this.signer.sign(event.uid, sentAt, payload)
    }
    let httpStatus: number | null = null
    let error: string
    try {
      httpStatus = await this.post(payload, headers)
      if (httpStatus >= 200 && httpStatus < 300) return { status: 'delivered', at: Date.now(), httpStatus }
      error = `the receiver answered ${httpStatus}`
    } catch (err) {
      const e = err as Error & { code?: string }
      error = e.code ?? e.message
    }
    const at = Date.now()
    const retryAt = at + retryDelayMs(event.attempts + 1)
    return { status: 'failed', at, httpStatus, error: error.slice(0, MAX_ERROR_LENGTH), retryAt: at - event.createdAt >= RETRY_WINDOW_MS ? null : retryAt }
  }

  /**
   * POSTs the payload; resolves to the status once the whole answer is in (its body is not
   * read), rejects on a network error or after timeoutMs. node:http rather than fetch: a
   * fraction of the CPU per request, which runs on the same event loop as message delivery.
   */
  private async post (payload: string, headers: Record<string, string>): Promise<number> {
    const send = this.target.protocol === 'https:' ? httpsRequest : httpRequest
    return await new Promise((resolve, reject) => {
      const req = send(this.target, { method: 'POST', agent: this.agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(payload)) } }, (res: IncomingMessage) => {
        res.on('end', () => { clearTimeout(timer); resolve(res.statusCode ?? 0) })
        res.on('error', reject)
        res.resume()
      })
      // The whole exchange, not only a silence: a receiver that trickles its answer is cut too.
      const timer = setTimeout(() => { req.destroy(Object.assign(new Error('timeout'), { code: `no answer within ${this.timeoutMs} ms` })) }, this.timeoutMs)
      req.on('error', (err) => { clearTimeout(timer); reject(err) })
      req.end(payload)
    })
  }

  private async prune (): Promise<void> {
    const now = Date.now()
    if (now - this.lastPrune < PRUNE_EVERY_MS) return
    this.lastPrune = now
    await this.options.outbox.pruneEvents(now - KEEP_DELIVERED_MS, now - KEEP_FAILED_MS, 1000)
  }
}
