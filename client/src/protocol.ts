// Generated from the server's schemas by `npm run client-types`: do not edit.

export type AuthFrame = {
  type: 'auth'
  token: string
  /** A position in a user stream (dense, from 1). */
  after?: number
}

export type SendFrame = {
  type: 'send'
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  to: string
  content: string
  /** Chosen by the sender to make retries safe: a second send with the same clientMsgId stores nothing new and answers the original. */
  clientMsgId?: string
}

export type SyncFrame = {
  type: 'sync'
  /** A position in a user stream (dense, from 1). */
  after: number
  limit?: number
}

export type AckFrame = {
  type: 'ack'
  /** A position in a user stream (dense, from 1). */
  upTo: number
}

export type PingFrame = {
  type: 'ping'
}

export type TypingFrame = {
  type: 'typing'
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  to: string
  state: 'start' | 'stop'
}

export type ReadFrame = {
  type: 'read'
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  peer: string
  upTo: number
}

export type WatchFrame = {
  type: 'watch' | 'unwatch'
  users: Array<string>
}

export type EditFrame = {
  type: 'edit'
  id: number
  content: string
}

export type DeleteFrame = {
  type: 'delete'
  id: number
}

/** After authentication: the connection is live (or replays first, when `after` was given). */
export type ReadyFrame = {
  type: 'ready'
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  userId: string
  connectionId: string
  /** A position in a user stream (dense, from 1). */
  lastSeq: number
  /** A position in a user stream (dense, from 1). */
  ackedSeq: number
}

/** A stream entry: a message to or from this user, in seq order. */
export type MessageFrame = {
  type: 'message'
  /** Global message id; grows with time. */
  id: number
  /** The position of this message in the receiving user's stream. */
  seq: number
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  from: string
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  to: string
  content: string
  createdAt: string
  /** Chosen by the sender to make retries safe: a second send with the same clientMsgId stores nothing new and answers the original. */
  clientMsgId?: string
  /** When its content was last edited (a replay shows the message as it is now). */
  editedAt?: string
  /** When it was deleted; its content is then "". */
  deletedAt?: string
}

/** A stream entry: message `id` was edited (by its sender or a service); shown as it is now. */
export type EditedFrame = {
  type: 'edited'
  /** Global message id; grows with time. */
  id: number
  /** The position of this change in the receiving user's stream (not the message's). */
  seq: number
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  from: string
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  to: string
  /** The content now ("" once deleted). */
  content: string
  createdAt: string
  /** Chosen by the sender to make retries safe: a second send with the same clientMsgId stores nothing new and answers the original. */
  clientMsgId?: string
  editedAt?: string
  deletedAt?: string
}

/** A stream entry: message `id` was deleted for both users; its content is gone. */
export type DeletedFrame = {
  type: 'deleted'
  /** Global message id; grows with time. */
  id: number
  /** The position of this change in the receiving user's stream (not the message's). */
  seq: number
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  from: string
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  to: string
  /** The content now ("" once deleted). */
  content: string
  createdAt: string
  /** Chosen by the sender to make retries safe: a second send with the same clientMsgId stores nothing new and answers the original. */
  clientMsgId?: string
  editedAt?: string
  deletedAt?: string
}

/** This connection's send is stored. */
export type SentFrame = {
  type: 'sent'
  /** Chosen by the sender to make retries safe: a second send with the same clientMsgId stores nothing new and answers the original. */
  clientMsgId?: string
  /** Global message id; grows with time. */
  id: number
  /** The position of the message in the sender's stream. */
  seq: number
  createdAt: string
}

/** The end of a sync page; with `more`, sync again from `upTo`. */
export type SyncedFrame = {
  type: 'synced'
  /** A position in a user stream (dense, from 1). */
  upTo: number
  more: boolean
}

/** A user started or stopped typing to this user. */
export type TypingEventFrame = {
  type: 'typing'
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  from: string
  state: 'start' | 'stop'
}

/** After `watch`, and when a watched user goes online or offline. */
export type PresenceFrame = {
  type: 'presence'
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  userId: string
  online: boolean
  lastSeen: string | null
}

/** `by` acknowledged (delivered) or read the messages of the conversation with `peer` up to message id `upTo`. */
export type ReceiptFrame = {
  type: 'receipt'
  kind: 'delivered' | 'read'
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  peer: string
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  by: string
  /** Global message id; grows with time. */
  upTo: number
}

/** A fresh token sent in an `auth` frame was accepted: the connection now lasts until it expires. */
export type AuthenticatedFrame = {
  type: 'authenticated'
  expiresAt: string
}

export type PongFrame = {
  type: 'pong'
}

/** A frame was refused; the connection stays open. */
export type ErrorFrame = {
  type: 'error'
  /** snake_case, stable (docs/errors.md) */
  code: string
  message: string
  /** The clientMsgId of the send it concerns; for an `edit` or `delete`, the message id. */
  ref?: string
  /** With rate_limited: ms to wait before sending again. */
  retryAfter?: number
}

export type Message = {
  /** Global message id; grows with time. */
  id: number
  /** The position of this message in the caller's stream. */
  seq: number
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  from: string
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  to: string
  content: string
  createdAt: string
  /** Chosen by the sender to make retries safe: a second send with the same clientMsgId stores nothing new and answers the original. */
  clientMsgId?: string
  /** When the content was last edited. */
  editedAt?: string
  /** When the message was deleted (its content is then ""). */
  deletedAt?: string
  /** GET /v1/sync only: this entry records an edit or a deletion of the message (shown as it is now), not the message itself. */
  kind?: 'edited' | 'deleted'
}

export type ErrorBody = {
  error: {
    /** snake_case, stable (docs/errors.md) */
    code: 'already_delivered' | 'content_too_long' | 'forbidden' | 'headers_too_large' | 'idempotency_conflict' | 'identity_provider_unavailable' | 'internal_error' | 'invalid_credentials' | 'invalid_cursor' | 'invalid_frame' | 'invalid_json' | 'invalid_recipient' | 'invalid_request' | 'message_deleted' | 'not_found' | 'not_ready' | 'origin_not_allowed' | 'payload_too_large' | 'presence_unavailable' | 'rate_limited' | 'request_timeout' | 'shutting_down' | 'signup_closed' | 'store_unavailable' | 'sync_in_progress' | 'token_in_url' | 'too_many_watches' | 'unauthorized' | 'unknown_recipient' | 'unknown_type' | 'unsupported_media_type' | 'upgrade_required' | 'user_exists'
    message: string
  }
}

export type SendMessage = {
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  to: string
  /** The message text: 1 to DUOLOG_MAX_CONTENT_LENGTH characters (default 4000). */
  content: string
  /** Chosen by the sender to make retries safe: a second send with the same clientMsgId stores nothing new and answers the original. */
  clientMsgId?: string
  /** Services only: the user the message is sent as. */
  from?: string
}

export type EditMessage = {
  /** The message text: 1 to DUOLOG_MAX_CONTENT_LENGTH characters (default 4000). */
  content: string
}

export type SentMessage = {
  id: number
  /** The position of the message in the sender's stream. */
  seq: number
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  from: string
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  to: string
  createdAt: string
  /** Chosen by the sender to make retries safe: a second send with the same clientMsgId stores nothing new and answers the original. */
  clientMsgId?: string
}

export type HistoryPage = {
  /** Newest first. */
  messages: Array<Message>
  /** Pass as `before` for the next (older) page; null when there is none. */
  nextBefore: number | null
}

export type SyncPage = {
  /** Oldest first, seq dense from after + 1. */
  messages: Array<Message>
  /** A position in a user stream (dense, from 1). */
  upTo: number
  /** true when the stream has entries after upTo: call again with after = upTo. */
  more: boolean
}

export type Conversation = {
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  peer: string
  lastMessage: Message
  /** Messages from the peer after readUpTo. */
  unread: number
  /** The caller's read marker (a message id; 0: none). */
  readUpTo: number
  /** How far the peer has read; null when read receipts are off. */
  peerReadUpTo: number | null
  /** The caller's newest message that reached a device of the peer. */
  peerDeliveredUpTo: number
}

export type ConversationList = {
  /** Most recent first. */
  conversations: Array<Conversation>
  nextBefore: number | null
}

export type ReadMarkerResult = {
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  peer: string
  /** The marker now; it only moves forward, so an older upTo leaves it as it was. */
  readUpTo: number
}

export type Presence = {
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  userId: string
  online: boolean
  connections: number
  /** Now while online; else when the last connection closed; null if never connected. */
  lastSeen: string | null
}

export type PresenceList = {
  /** One entry per known user the caller may see, in the order asked; the others are left out. */
  presence: Array<Presence>
}

export type CreateUser = {
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  id: string
  /** Required unless a service creates the user. */
  password?: string
  /** Defaults to the id. */
  displayName?: string
}

export type User = {
  /** A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".." */
  id: string
  displayName: string
  createdAt: string
}

export type Login = {
  id: string
  password: string
}

export type Refresh = {
  refreshToken: string
}

export type SessionToken = {
  accessToken: string
  tokenType: 'Bearer'
  /** Seconds until the access token expires. */
  expiresIn: number
  /** Single use: POST /v1/auth/refresh answers a new pair. Using one twice ends the session. */
  refreshToken: string
  /** Seconds until the refresh token expires. */
  refreshExpiresIn: number
}

export type Token = {
  accessToken: string
  tokenType: 'Bearer'
  /** Seconds until the token expires. */
  expiresIn: number
}

export type ClientFrame = AuthFrame | SendFrame | SyncFrame | AckFrame | PingFrame | TypingFrame | ReadFrame | WatchFrame | EditFrame | DeleteFrame
export type ServerFrame = ReadyFrame | MessageFrame | EditedFrame | DeletedFrame | SentFrame | SyncedFrame | TypingEventFrame | PresenceFrame | ReceiptFrame | AuthenticatedFrame | PongFrame | ErrorFrame
