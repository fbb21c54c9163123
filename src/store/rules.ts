import type { AppendOutcome, EntryKind, MessageChange, NewMessage, ReadOutcome, SessionRecord, StoredMessage, StreamEntry } from './store.js'
import type { EventDraft, OutboxSettings } from './outbox.js'
import type { WebhookEventType } from '../webhooks/events.js'

// The rules every Store keeps, written once: both backends decide with these and differ
// only in how they read and write. The contract suite (test/store/contract.ts) holds them.

/** The two users of a conversation in a fixed order (how both stores key a pair). */
export function orderedPair (a: string, b: string): [string, string] {
  return a < b ? [a, b] : [b, a]
}

const ENTRY_KINDS: readonly EntryKind[] = ['message', 'edited', 'deleted']

/** How both stores keep an entry's kind: 0 message, 1 edited, 2 deleted. */
export const entryKindCode = (kind: EntryKind): number => ENTRY_KINDS.indexOf(kind)

/** A stream row (the message's columns, and the entry's seq and kind code) as an entry. */
export function toEntry (row: StoredMessage & { entrySeq: number, entryKind: number }): StreamEntry {
  const { entrySeq, entryKind, ...message } = row
  return { seq: entrySeq, kind: ENTRY_KINDS[entryKind] ?? 'message', message }
}

/** A sender's clientMsgId: retries are recognized per sender. */
export function retryKey (sender: string, clientMsgId: string): string {
  return `${sender}\n${clientMsgId}`
}

/** What a store knows when it decides a batch (each read inside the batch's transaction). */
export interface AppendLookups {
  /** The stored message this sender already sent with this clientMsgId (`key` is their retryKey), if any. */
  earlier (key: string, sender: string, clientMsgId: string): StoredMessage | undefined
  userExists (userId: string): boolean
  /** Whether `recipient` blocks `sender`. */
  blocks (recipient: string, sender: string): boolean
  /** The newest seq of a user's stream before this batch (0 when empty). */
  lastSeq (userId: string): number
}

export interface AppendPlan {
  /** In the batch's order. */
  outcomes: AppendOutcome[]
  /** The messages to write, in order; their `id` is 0 until the store assigns it (in this order, so ids grow with seqs). */
  fresh: StoredMessage[]
  /** The newest seq of every stream the batch writes to. */
  lastSeqs: Map<string, number>
}

/**
 * Decides every message of a batch: a retry of a stored clientMsgId with the same recipient
 * and content is a duplicate (nothing stored), with anything else a conflict; an unknown
 * sender or recipient is refused; everything else takes the next seq of both streams (of the
 * sender's only when the recipient blocks the sender: recipientSeq is then 0).
 * A retry inside the same batch counts too.
 */
export function planAppend (batch: readonly NewMessage[], lookups: AppendLookups): AppendPlan {
  const outcomes: AppendOutcome[] = []
  const fresh: StoredMessage[] = []
  const lastSeqs = new Map<string, number>()
  const inBatch = new Map<string, StoredMessage>()
  const next = (userId: string): number => {
    const seq = (lastSeqs.get(userId) ?? lookups.lastSeq(userId)) + 1
    lastSeqs.set(userId, seq)
    return seq
  }
  for (const m of batch) {
    const key = m.clientMsgId === null ? undefined : retryKey(m.from, m.clientMsgId)
    const earlier = key === undefined ? undefined : inBatch.get(key) ?? lookups.earlier(key, m.from, m.clientMsgId as string)
    if (earlier !== undefined) {
      // An edited or deleted message no longer has the content it was sent with: any retry to the same recipient is taken as one.
      const same = earlier.to === m.to && (earlier.content === m.content || earlier.editedAt !== null || earlier.deletedAt !== null)
      outcomes.push({ status: same ? 'duplicate' : 'conflict', message: earlier })
      continue
    }
    if (!lookups.userExists(m.from)) {
      outcomes.push({ status: 'unknown_sender' })
      continue
    }
    if (!lookups.userExists(m.to)) {
      outcomes.push({ status: 'unknown_recipient' })
      continue
    }
    // A blocked sender is answered as usual, but the message is in the sender's stream only.
    const hidden = lookups.blocks(m.to, m.from)
    const message: StoredMessage = {
      id: 0, from: m.from, to: m.to, content: m.content, createdAt: m.createdAt, clientMsgId: m.clientMsgId, senderSeq: next(m.from), recipientSeq: hidden ? 0 : next(m.to), editedAt: null, deletedAt: null
    }
    if (key !== undefined) inBatch.set(key, message)
    fresh.push(message)
    outcomes.push({ status: 'stored', message })
  }
  return { outcomes, fresh, lastSeqs }
}

/** How a batch moves the counters of one side of a conversation. */
export interface ConversationCounter {
  user: string
  peer: string
  /** The newest message of the batch between the two. */
  lastMessageId: number
  /** How many of the batch's messages `user` received from `peer`. */
  received: number
}

/** One counter per (user, peer) the batch touches, sorted by user then peer (one lock order). */
export function conversationCounters (messages: readonly StoredMessage[]): ConversationCounter[] {
  const byKey = new Map<string, ConversationCounter>()
  const touch = (user: string, peer: string, m: StoredMessage): void => {
    const key = `${user}\n${peer}`
    const received = m.to === user ? 1 : 0
    const counter = byKey.get(key)
    if (counter === undefined) {
      byKey.set(key, { user, peer, lastMessageId: m.id, received })
    } else {
      counter.lastMessageId = Math.max(counter.lastMessageId, m.id)
      counter.received += received
    }
  }
  for (const m of messages) {
    touch(m.from, m.to, m)
    // A message hidden by a block is not in the recipient's conversation at all.
    if (m.recipientSeq > 0) touch(m.to, m.from, m)
  }
  return [...byKey.values()].sort((a, b) => a.user < b.user ? -1 : a.user > b.user ? 1 : a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0)
}

/**
 * Whether a read marker moves: never past the newest message of the conversation (0 when
 * there is none), never backwards. `advance` asks the store to count the peer's messages in
 * (from, upTo] as read and move the marker.
 */
export function readStep (newest: number, readUpTo: number, upTo: number): Exclude<ReadOutcome, { status: 'advanced' }> | { status: 'advance', from: number } {
  if (upTo > newest) return { status: 'invalid' }
  if (upTo <= readUpTo) return { status: 'unchanged', readUpTo }
  return { status: 'advance', from: readUpTo }
}

export interface RefreshTokenRow {
  sessionId: string
  expiresAt: number
  usedAt: number | null
}

/**
 * What presenting a refresh token does: an unknown token, or one of an ended session, is
 * invalid; one already used ends its session (it was stolen, or a client raced itself); an
 * expired one is invalid; otherwise it is used up and a new one issued (`rotate`).
 */
export function refreshStep (token: RefreshTokenRow | undefined, session: SessionRecord | undefined, now: number):
{ status: 'invalid' } | { status: 'reuse' | 'rotate', session: SessionRecord } {
  if (token === undefined || session === undefined || session.revokedAt !== null) return { status: 'invalid' }
  if (token.usedAt !== null) return { status: 'reuse', session }
  if (token.expiresAt <= now) return { status: 'invalid' }
  return { status: 'rotate', session }
}

/** A message as webhooks carry it: the REST shape, with both users' ids and seqs. */
export function messageEventData (m: StoredMessage): Record<string, unknown> {
  return {
    id: m.id,
    from: m.from,
    to: m.to,
    content: m.content,
    createdAt: new Date(m.createdAt).toISOString(),
    ...(m.clientMsgId === null ? {} : { clientMsgId: m.clientMsgId }),
    senderSeq: m.senderSeq,
    recipientSeq: m.recipientSeq,
    ...(m.editedAt === null ? {} : { editedAt: new Date(m.editedAt).toISOString() }),
    ...(m.deletedAt === null ? {} : { deletedAt: new Date(m.deletedAt).toISOString() })
  }
}

/** What a change does to a message (its content erased when deleted). */
export function changed (m: StoredMessage, change: MessageChange): StoredMessage {
  return change.kind === 'edited' ? { ...m, content: change.content, editedAt: change.at } : { ...m, content: '', deletedAt: change.at }
}

/** The webhook event of a change. */
export function changeDrafts (settings: OutboxSettings | undefined, m: StoredMessage, kind: MessageChange['kind']): EventDraft[] {
  return eventDrafts(settings, kind === 'edited' ? 'message.edited' : 'message.deleted', messageEventData(m), [m.from, m.to], m.id)
}

/** The events a batch of newly stored messages causes. */
export function messageCreatedDrafts (settings: OutboxSettings | undefined, fresh: readonly StoredMessage[]): EventDraft[] {
  if (settings === undefined) return []
  const drafts: EventDraft[] = []
  for (const m of fresh) {
    // A send a block hides is not told to the backend either (it would notify the blocker).
    if (m.recipientSeq === 0) continue
    const undeliveredAt = settings.events.has('message.undelivered') ? m.createdAt + settings.undeliveredMs : undefined
    if (settings.events.has('message.created')) {
      // Its message.undelivered is written once it is finished, if the message is not acknowledged by then.
      drafts.push({ type: 'message.created', data: messageEventData(m), messageId: m.id, users: [m.from, m.to], dueAt: m.createdAt, ...(undeliveredAt === undefined ? {} : { undeliveredAt }) })
    } else if (undeliveredAt !== undefined) {
      drafts.push({ type: 'message.undelivered', data: messageEventData(m), messageId: m.id, users: [], dueAt: undeliveredAt })
    }
  }
  return drafts
}

/** One ordered event about `users`, when the deployment sends that type; else none. */
export function eventDrafts (settings: OutboxSettings | undefined, type: WebhookEventType, data: unknown, users: readonly string[], messageId: number | null = null): EventDraft[] {
  if (settings?.events.has(type) !== true) return []
  return [{ type, data, messageId, users, dueAt: Date.now() }]
}
