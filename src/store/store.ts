import { Errors } from '../errors.js'
import type { OutboxStore } from './outbox.js'

/** A user account. Times are milliseconds since the epoch. */
export interface UserRecord {
  id: string
  displayName: string
  /** null for users created by a service without a password: they log in through that service only. */
  passwordHash: string | null
  createdAt: number
  lastSeen: number | null
}

/** A stored message, with its position in both users' streams. */
export interface StoredMessage {
  id: number
  from: string
  to: string
  content: string
  createdAt: number
  clientMsgId: string | null
  senderSeq: number
  /** 0 when the message is in the sender's stream only (the recipient blocks the sender). */
  recipientSeq: number
  /** When the content was last changed; null if never. */
  editedAt: number | null
  /** When it was deleted (its content is then ""); null if not. */
  deletedAt: number | null
}

/** What a stream entry records: a message, or a change to one (made later, so at a later seq). */
export type EntryKind = 'message' | 'edited' | 'deleted'

/** One entry of a user's stream: its position, what it records, and the message as it is now. */
export interface StreamEntry {
  seq: number
  kind: EntryKind
  message: StoredMessage
}

export type MessageChange =
  | { id: number, kind: 'edited', content: string, at: number }
  | { id: number, kind: 'deleted', at: number }

export type ChangeOutcome =
  /** The change is stored, with an entry in the sender's stream and (if the message is in it) the recipient's. */
  | { status: 'changed', message: StoredMessage, senderSeq: number, recipientSeq: number }
  | { status: 'not_found' }
  /** The message was already deleted: nothing changes any more. */
  | { status: 'deleted' }

export interface NewMessage {
  from: string
  to: string
  content: string
  clientMsgId: string | null
  createdAt: number
}

export type AppendOutcome =
  | { status: 'stored', message: StoredMessage }
  /** The sender already used this clientMsgId for the same message: nothing new was stored. */
  | { status: 'duplicate', message: StoredMessage }
  /** The sender already used this clientMsgId for a different message. */
  | { status: 'conflict', message: StoredMessage }
  | { status: 'unknown_recipient' }
  | { status: 'unknown_sender' }

export interface StreamState {
  /** The newest seq in the user's stream (0 when empty). */
  lastSeq: number
  /** The highest seq any device of the user acknowledged. */
  ackedSeq: number
}

export interface HistoryQuery {
  /** Exclusive upper bound on message id. */
  before?: number | undefined
  /** Exclusive lower bound on message id. */
  after?: number | undefined
  limit: number
}

/** One conversation as one of its two users sees it. Marker values are message ids (0: none). */
export interface ConversationSummary {
  peer: string
  lastMessage: StoredMessage
  /** Messages from the peer after readUpTo. */
  unread: number
  /** This user's read marker. */
  readUpTo: number
  /** The peer's read marker: how far the peer has read this user's messages. */
  peerReadUpTo: number
  /** How far this user's messages have reached a device of the peer (acknowledged). */
  peerDeliveredUpTo: number
}

export type ReadOutcome =
  | { status: 'advanced', readUpTo: number }
  /** upTo is not beyond the current marker: markers only move forward. */
  | { status: 'unchanged', readUpTo: number }
  /** upTo is beyond the newest message of the conversation. */
  | { status: 'invalid' }

/** A login session: the access and refresh tokens issued to one login (or one mint). */
export interface SessionRecord {
  id: string
  userId: string
  createdAt: number
  revokedAt: number | null
}

export type RefreshOutcome =
  | { status: 'rotated', session: SessionRecord }
  /** The token was already used: the whole session is revoked now (theft detection). */
  | { status: 'reused', session: SessionRecord }
  | { status: 'invalid' }

/**
 * Durable storage for users and messages: the source of truth.
 *
 * Guarantee: when appendMessages resolves, every 'stored' message is committed
 * (it survives the process being killed) and holds the next dense seq in both the
 * sender's and the recipient's stream; the streams never have gaps. Each batch
 * is one atomic commit. Implementations may keep nothing that matters in memory. The webhook
 * outbox (OutboxStore) lives in the same database, so that events commit with their changes.
 */
export interface Store extends OutboxStore {
  readonly kind: string
  /** false when the id is taken, in any case ("Alice" beside "alice"), or was a deleted account's; lookups stay exact. */
  createUser (user: Omit<UserRecord, 'lastSeen'>): Promise<boolean>
  /** undefined for an unknown or deleted user. */
  getUser (id: string): Promise<UserRecord | undefined>
  /** false for an unknown or deleted user. */
  updateUser (id: string, changes: { displayName?: string | undefined, passwordHash?: string | undefined }): Promise<boolean>
  /**
   * Deletes an account in one commit: the content of every message it sent is erased (from
   * webhook events too; the peers keep the entries, without content), its stream, conversations,
   * blocks, retry keys and refresh tokens go, its sessions end, and its row stays as a tombstone
   * so that the id is never taken again. false when there is no such (live) user.
   */
  deleteUser (id: string, at: number): Promise<boolean>
  /** The lastSeen of each id that exists, in the order of ids (unknown ids are absent). */
  lastSeen (ids: readonly string[]): Promise<Map<string, number | null>>
  /** Moves lastSeen forward to at (never back: instances may report out of order). */
  setLastSeen (id: string, at: number): Promise<void>
  /** Stores a batch in one commit; outcomes are in the batch's order (decided by planAppend in rules.ts). */
  appendMessages (batch: readonly NewMessage[]): Promise<AppendOutcome[]>
  /** Entries of userId's stream with seq > after, oldest first, at most limit. */
  readStream (userId: string, after: number, limit: number): Promise<StreamEntry[]>
  getMessage (id: number): Promise<StoredMessage | undefined>
  /**
   * Edits or deletes a message for both users in one commit: the new content (or none: a
   * deleted message's content is erased, from webhook events too), and an entry at the next
   * seq of each stream the message is in.
   */
  changeMessage (change: MessageChange): Promise<ChangeOutcome>
  streamState (userId: string): Promise<StreamState>
  /** Raises ackedSeq to upTo if higher (never lowers it); resolves to the new ackedSeq. */
  ack (userId: string, upTo: number): Promise<number>
  /** Messages between userId and peer inside the bounds, newest first, at most limit. */
  conversation (userId: string, peer: string, query: HistoryQuery): Promise<StoredMessage[]>
  /** The user's conversations, most recent first: those whose last message id < before. */
  conversations (userId: string, query: { before?: number | undefined, limit: number }): Promise<ConversationSummary[]>
  /** Whether the two users have exchanged a message. */
  hasConversation (a: string, b: string): Promise<boolean>
  /** Moves userId's read marker in the conversation with peer forward to upTo. */
  markRead (userId: string, peer: string, upTo: number): Promise<ReadOutcome>
  /**
   * After userId acknowledged its stream from afterSeq (exclusive) to upToSeq: raises, per peer,
   * how far that peer's messages have been delivered; resolves to the markers that moved.
   */
  markDelivered (userId: string, afterSeq: number, upToSeq: number): Promise<Array<{ peer: string, upTo: number }>>
  /** blocker stops receiving blocked's messages (idempotent: an existing block keeps its time). */
  block (blocker: string, blocked: string, at: number): Promise<void>
  /** false when there was no such block. */
  unblock (blocker: string, blocked: string): Promise<boolean>
  /** The users blocker blocks, most recent first. */
  blocksOf (blocker: string): Promise<Array<{ userId: string, createdAt: number }>>
  /** Whether either user blocks the other (presence and typing are hidden both ways then). */
  blockedEitherWay (a: string, b: string): Promise<boolean>
  /** Creates a session, with its first refresh token (stored as a hash) when given. */
  createSession (session: Omit<SessionRecord, 'revokedAt'>, refresh?: { hash: string, expiresAt: number }): Promise<void>
  /**
   * In one transaction: finds the refresh token by hash; if it is unused, unexpired and its
   * session live, marks it used and stores `next`; if it was used already, revokes its session.
   */
  rotateRefreshToken (hash: string, next: { hash: string, expiresAt: number }, now: number): Promise<RefreshOutcome>
  /** Revokes one session; resolves to it (undefined when unknown). */
  revokeSession (id: string, at: number): Promise<SessionRecord | undefined>
  /** Revokes every live session of a user (but `except`); resolves to their ids. */
  revokeUserSessions (userId: string, at: number, except?: string): Promise<string[]>
  /** Ids of sessions revoked at or after `since`. */
  revokedSessions (since: number): Promise<string[]>
  /** Rejects when the store cannot serve requests. */
  ping (): Promise<void>
  close (): Promise<void>
}

/** What a connection reads its stream with. */
export type StreamReader = Pick<Store, 'readStream' | 'streamState'>

/**
 * A page of userId's stream after `after`: at most `limit` entries, oldest first, and whether
 * more follow. Shared by WebSocket `sync` and GET /v1/sync. Refuses a cursor past the end.
 */
export async function readStreamPage (store: StreamReader, userId: string, after: number, limit: number): Promise<{ entries: StreamEntry[], more: boolean }> {
  const { lastSeq } = await store.streamState(userId)
  if (after > lastSeq) throw new Errors.InvalidCursor(`after (${after}) is beyond the end of the stream (${lastSeq})`)
  const page = await store.readStream(userId, after, limit + 1)
  const more = page.length > limit
  return { entries: more ? page.slice(0, limit) : page, more }
}

/** The seq a message has in the stream of userId (one of its two parties). */
export function seqFor (message: StoredMessage, userId: string): number {
  return message.to === userId ? message.recipientSeq : message.senderSeq
}
