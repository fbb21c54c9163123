import { Webhook } from 'standardwebhooks'
import type { Log } from '../log.js'
import { RETRY_WINDOW_MS, retryDelayMs, type AttemptOutcome, type ClaimedEvent, type OutboxStore } from '../store/outbox.js'

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
  private readonly timeoutMs: number
  private readonly pollMs: number
  private readonly concurrency: number
  private readonly inFlight = new Set<Promise<void>>()
  private timer: NodeJS.Timeout | undefined
  private running = false
  private reading = false
  private lastPrune = 0

  constructor (private readonly options: WebhookSenderOptions) {
    this.signer = new Webhook(options.secret)
    this.timeoutMs = options.timeoutMs ?? 5000
    this.pollMs = options.pollMs ?? 100
    this.concurrency = options.concurrency ?? 16
  }

  start (): void {
    this.running = true
    this.schedule(0)
  }

  /** Stops claiming; waits for the attempts in flight (each ends within timeoutMs). */
  async stop (): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    await Promise.all(this.inFlight)
  }

  private schedule (delayMs: number): void {
    if (!this.running) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { void this.tick() }, delayMs)
    this.timer.unref()
  }

  private async tick (): Promise<void> {
    if (!this.running || this.reading) return
    this.reading = true
    let next = this.pollMs
    try {
      await this.prune()
      const free = this.concurrency - this.inFlight.size
      if (free > 0) {
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
      .then((outcome) => this.record(event, outcome))
      .catch((err: unknown) => { this.options.log.warn({ err, event: event.uid }, 'webhooks: recording an attempt failed (the event is tried again when its claim ends)') })
      .finally(() => {
        this.inFlight.delete(attempt)
        // A slot is free: an event that waited for this one may be due now.
        this.schedule(0)
      })
    this.inFlight.add(attempt)
  }

  private async record (event: ClaimedEvent, outcome: AttemptOutcome): Promise<void> {
    this.options.attempted?.(outcome.status)
    if (outcome.status === 'failed') {
      this.options.log.warn({ event: event.uid, type: event.type, attempts: event.attempts + 1, status: outcome.httpStatus, error: outcome.error, retryAt: outcome.retryAt },
        outcome.retryAt === null ? 'webhooks: gave up on an event' : 'webhooks: an attempt failed; will retry')
    }
    await this.options.outbox.recordAttempt(event.id, outcome)
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
      const response = await fetch(this.options.url, { method: 'POST', headers, body: payload, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) })
      httpStatus = response.status
      await response.body?.cancel()
      if (response.ok) return { status: 'delivered', at: Date.now(), httpStatus }
      error = `the receiver answered ${response.status}`
    } catch (err) {
      const e = err as Error & { cause?: { code?: string, message?: string } }
      error = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message)
    }
    const at = Date.now()
    const retryAt = at + retryDelayMs(event.attempts + 1)
    return { status: 'failed', at, httpStatus, error: error.slice(0, MAX_ERROR_LENGTH), retryAt: at - event.createdAt >= RETRY_WINDOW_MS ? null : retryAt }
  }

  private async prune (): Promise<void> {
    const now = Date.now()
    if (now - this.lastPrune < PRUNE_EVERY_MS) return
    this.lastPrune = now
    await this.options.outbox.pruneEvents(now - KEEP_DELIVERED_MS, now - KEEP_FAILED_MS, 1000)
  }
}
