import type { WebhookEventType } from '../webhooks/events.js'

// The webhook outbox: events written in the same transaction as the change that causes them,
// sent later by src/webhooks/sender.ts. Both stores keep these rules; they differ only in how
// they read and write.

/** Which events a store writes (DUOLOG_WEBHOOK_EVENTS), and when `message.undelivered` falls due. */
export interface OutboxSettings {
  events: ReadonlySet<WebhookEventType>
  undeliveredMs: number
}

/** An event claimed for sending. */
export interface ClaimedEvent {
  /** The store's key. */
  id: number
  /** The `webhook-id`: the same on every attempt. */
  uid: string
  type: WebhookEventType
  /** The event's `data`, as JSON text. */
  data: string
  createdAt: number
  messageId: number | null
  /** Attempts made before this one. */
  attempts: number
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'skipped'

/** What a service sees of one event's delivery (GET /v1/webhooks/deliveries). */
export interface DeliveryRecord {
  uid: string
  type: WebhookEventType
  createdAt: number
  status: DeliveryStatus
  attempts: number
  lastAttemptAt: number | null
  /** The receiver's HTTP status on the last attempt (null: no answer). */
  lastStatus: number | null
  lastError: string | null
  /** When it is tried next; null once delivered, skipped or given up. */
  nextAttemptAt: number | null
}

/** The outcome of one attempt. */
export type AttemptOutcome =
  | { status: 'delivered', at: number, httpStatus: number }
  /** `message.undelivered` for a message acknowledged in time (or deleted): nothing was sent. */
  | { status: 'skipped', at: number }
  /** retryAt null: given up (the retry window is over). */
  | { status: 'failed', at: number, httpStatus: number | null, error: string, retryAt: number | null }

export interface Attempt { id: number, outcome: AttemptOutcome }

export type RetryOutcome = 'scheduled' | 'unknown' | 'not_failed'

/**
 * Where webhook events wait to be sent. Guarantees: an event is written in the transaction of
 * the change it reports (so it exists exactly when the change does); a claimed event is not
 * claimed again until its lease ends (so with several instances each attempt is made by one);
 * an ordered event is not claimable while an earlier event of one of its users is unfinished
 * (per-user order), and `message.undelivered` waits for its message's `message.created`.
 */
export interface OutboxStore {
  /** Marks up to `limit` due events claimed until `now + leaseMs`, oldest due first. */
  claimEvents (now: number, limit: number, leaseMs: number): Promise<ClaimedEvent[]>
  /** Records attempts, in one commit; finishing an event (delivered, skipped, given up) releases the events that waited for it. */
  recordAttempts (attempts: readonly Attempt[]): Promise<void>
  /** Whether a device of the recipient acknowledged the message (or it was deleted): no `message.undelivered` then. */
  messageAcknowledged (messageId: number): Promise<boolean>
  /** Deliveries newest first, with the given status, below the `before` cursor (an internal id). */
  deliveries (query: { status?: DeliveryStatus | undefined, before?: number | undefined, limit: number }): Promise<Array<DeliveryRecord & { cursor: number }>>
  /** Makes a pending or failed event due now (a given-up one too). */
  retryEvent (uid: string, now: number): Promise<RetryOutcome>
  /** Deletes up to `limit` finished events: failed ones finished before `failedBefore`, the others before `deliveredBefore`. */
  pruneEvents (deliveredBefore: number, failedBefore: number, limit: number): Promise<number>
}

/** An event to write: a change the store is committing. */
export interface EventDraft {
  type: WebhookEventType
  data: unknown
  messageId: number | null
  /** The users whose events keep their order ([] for message.undelivered, which is sent when due). */
  users: readonly string[]
  dueAt: number
  /** Another draft of the same write (its index) that must be finished first. */
  afterDraft?: number
  /** message.created: when its message.undelivered falls due (written when this one is finished). */
  undeliveredAt?: number
  /** `data` already as JSON text. */
  json?: string
}

/** An event row as written. */
export interface EventRow {
  id: number
  uid: string
  type: WebhookEventType
  data: string
  createdAt: number
  messageId: number | null
  afterA: number | null
  afterB: number | null
  /** How many of afterA, afterB are unfinished. */
  waiting: number
  dueAt: number
  undeliveredAt: number | null
}

export interface EventLookups {
  /** The newest ordered event of a user, finished or not. */
  tail (userId: string): number | undefined
  /** Which of these events are unfinished (their followers must wait). */
  unfinished (ids: readonly number[]): ReadonlySet<number>
}

/**
 * Decides the rows for drafts whose ids are given (in order): each ordered event waits for
 * the unfinished newest event of each of its users; the users' tails move to it.
 */
export function planEvents (drafts: readonly EventDraft[], ids: readonly number[], lookups: EventLookups, createdAt: number):
{ rows: EventRow[], tails: Map<string, number> } {
  const tails = new Map<string, number>()
  const fresh = new Set<number>()
  const earlier = new Set<number>()
  for (const d of drafts) for (const u of d.users) { const tail = lookups.tail(u); if (tail !== undefined) earlier.add(tail) }
  const unfinished = lookups.unfinished([...earlier])
  const rows = drafts.map((d, i): EventRow => {
    const id = ids[i] as number
    const after = new Set<number>()
    for (const u of d.users) {
      const prev = tails.get(u) ?? lookups.tail(u)
      if (prev !== undefined && (fresh.has(prev) || unfinished.has(prev))) after.add(prev)
      tails.set(u, id)
    }
    if (d.afterDraft !== undefined) after.add(ids[d.afterDraft] as number)
    fresh.add(id)
    const [afterA = null, afterB = null] = [...after]
    return {
      id,
      uid: eventUid(createdAt, id),
      type: d.type,
      data: d.json ?? JSON.stringify(d.data),
      createdAt,
      messageId: d.messageId,
      afterA,
      afterB,
      waiting: after.size,
      dueAt: d.dueAt,
      undeliveredAt: d.undeliveredAt ?? null
    }
  })
  return { rows, tails }
}

/**
 * A `webhook-id`: 32 hex digits, the creation time in ms and the event's id. Unique (receivers
 * drop repeats by it), also across a database started afresh (the time differs), and the id
 * can be read back from it, so that it needs no index.
 */
export function eventUid (at: number, id: number): string {
  return `evt_${at.toString(16).padStart(12, '0').slice(-12)}${id.toString(16).padStart(20, '0')}`
}

/** The id in a webhook-id (0 for one that is not duolog's). */
export function eventIdOf (uid: string): number {
  const match = /^evt_[0-9a-f]{12}([0-9a-f]{20})$/.exec(uid)
  const id = match === null ? 0 : parseInt(match[1] as string, 16)
  return Number.isSafeInteger(id) ? id : 0
}

/** What a finished event leads to: a message.created's message.undelivered (a draft), unless the message was acknowledged. */
export function followUpDrafts (finished: { type: string, messageId: number | null, data: string, undeliveredAt: number | null } | undefined, acknowledged: (messageId: number) => boolean): EventDraft[] {
  if (finished?.type !== 'message.created' || finished.undeliveredAt === null || finished.messageId === null) return []
  if (acknowledged(finished.messageId)) return []
  return [{ type: 'message.undelivered', data: undefined, json: finished.data, messageId: finished.messageId, users: [], dueAt: finished.undeliveredAt }]
}

/** A failed attempt's outcome when a retry was asked for while it was in flight: tried again then, not after the backoff. */
export function withRetryAsked (outcome: AttemptOutcome, askedAt: number | undefined): AttemptOutcome {
  return askedAt === undefined || outcome.status !== 'failed' ? outcome : { ...outcome, retryAt: askedAt }
}

/** The next attempt after `attempts` failed ones: 5 s, 10 s, 20 s ... at most 1 h apart. */
export function retryDelayMs (attempts: number): number {
  return Math.min(5000 * 2 ** Math.max(0, attempts - 1), 3600_000)
}

/** How long an event is retried after it was created (at least 24 hours, as promised). */
export const RETRY_WINDOW_MS = 24 * 3600_000
