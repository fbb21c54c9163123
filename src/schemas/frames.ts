import { Type, type Static } from '@sinclair/typebox'
import { ClientMsgIdSchema, MAX_INTEGER, SeqSchema, UserIdSchema } from './common.js'

// Client -> server WebSocket frames (docs/protocol.md). Unknown extra fields are ignored.

export const AuthFrameSchema = Type.Object({
  type: Type.Literal('auth'),
  token: Type.String({ minLength: 1, maxLength: 8192 }),
  /** Resume: replay the stream after this seq before going live (as a first sync, with no window between). */
  after: Type.Optional(SeqSchema)
})
export type AuthFrame = Static<typeof AuthFrameSchema>

// content is a string here; its length is checked by delivery, the one path shared with HTTP.
export const SendFrameSchema = Type.Object({
  type: Type.Literal('send'),
  to: UserIdSchema,
  content: Type.String(),
  clientMsgId: Type.Optional(ClientMsgIdSchema)
})
export type SendFrame = Static<typeof SendFrameSchema>

export const SyncFrameSchema = Type.Object({
  type: Type.Literal('sync'),
  after: SeqSchema,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER }))
})
export type SyncFrame = Static<typeof SyncFrameSchema>

export const AckFrameSchema = Type.Object({ type: Type.Literal('ack'), upTo: SeqSchema })
export type AckFrame = Static<typeof AckFrameSchema>

export const PingFrameSchema = Type.Object({ type: Type.Literal('ping') })
export type PingFrame = Static<typeof PingFrameSchema>

/** Not stored, never replayed: only connected devices of `to` see it. */
export const TypingFrameSchema = Type.Object({
  type: Type.Literal('typing'),
  to: UserIdSchema,
  state: Type.Union([Type.Literal('start'), Type.Literal('stop')])
})
export type TypingFrame = Static<typeof TypingFrameSchema>

/** Moves the reader's read marker in the conversation with `peer` forward to message id `upTo`. */
export const ReadFrameSchema = Type.Object({
  type: Type.Literal('read'),
  peer: UserIdSchema,
  upTo: Type.Integer({ minimum: 1, maximum: MAX_INTEGER })
})
export type ReadFrame = Static<typeof ReadFrameSchema>

/** Presence subscriptions of one connection: at most 100 users at a time. */
export const WatchFrameSchema = Type.Object({
  type: Type.Union([Type.Literal('watch'), Type.Literal('unwatch')]),
  users: Type.Array(UserIdSchema, { minItems: 1, maxItems: 100 })
})
export type WatchFrame = Static<typeof WatchFrameSchema>

/** Changes the content of a message the caller sent (both users' devices get `edited`). */
export const EditFrameSchema = Type.Object({
  type: Type.Literal('edit'),
  id: Type.Integer({ minimum: 1, maximum: MAX_INTEGER }),
  content: Type.String()
})
export type EditFrame = Static<typeof EditFrameSchema>

/** Deletes a message the caller sent, for both users (their devices get `deleted`). */
export const DeleteFrameSchema = Type.Object({
  type: Type.Literal('delete'),
  id: Type.Integer({ minimum: 1, maximum: MAX_INTEGER })
})
export type DeleteFrame = Static<typeof DeleteFrameSchema>

export type ClientFrame = AuthFrame | SendFrame | SyncFrame | AckFrame | PingFrame | TypingFrame | ReadFrame | WatchFrame | EditFrame | DeleteFrame

// Server -> client frames (docs/protocol.md). src/relay/frames.ts builds them by hand for
// speed; test/relay/frames.test.ts checks what it builds against these. The client SDK's
// types and the AsyncAPI document come from here.

const MessageId = Type.Integer({ minimum: 1, description: 'Global message id; grows with time.' })

export const ReadyFrameSchema = Type.Object({
  type: Type.Literal('ready'),
  userId: UserIdSchema,
  connectionId: Type.String(),
  lastSeq: SeqSchema,
  ackedSeq: SeqSchema
}, { title: 'ReadyFrame', description: 'After authentication: the connection is live (or replays first, when `after` was given).' })

export const MessageFrameSchema = Type.Object({
  type: Type.Literal('message'),
  id: MessageId,
  seq: Type.Integer({ minimum: 1, description: 'The position of this message in the receiving user\'s stream.' }),
  from: UserIdSchema,
  to: UserIdSchema,
  content: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  clientMsgId: Type.Optional(ClientMsgIdSchema),
  editedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When its content was last edited (a replay shows the message as it is now).' })),
  deletedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When it was deleted; its content is then "".' }))
}, { title: 'MessageFrame', description: 'A stream entry: a message to or from this user, in seq order.' })

const changeFrame = (kind: 'edited' | 'deleted', description: string) => Type.Object({
  type: Type.Literal(kind),
  id: MessageId,
  seq: Type.Integer({ minimum: 1, description: 'The position of this change in the receiving user\'s stream (not the message\'s).' }),
  from: UserIdSchema,
  to: UserIdSchema,
  content: Type.String({ description: 'The content now ("" once deleted).' }),
  createdAt: Type.String({ format: 'date-time' }),
  clientMsgId: Type.Optional(ClientMsgIdSchema),
  editedAt: Type.Optional(Type.String({ format: 'date-time' })),
  deletedAt: Type.Optional(Type.String({ format: 'date-time' }))
}, { title: kind === 'edited' ? 'EditedFrame' : 'DeletedFrame', description })

export const EditedFrameSchema = changeFrame('edited', 'A stream entry: message `id` was edited (by its sender or a service); shown as it is now.')
export const DeletedFrameSchema = changeFrame('deleted', 'A stream entry: message `id` was deleted for both users; its content is gone.')

export const SentFrameSchema = Type.Object({
  type: Type.Literal('sent'),
  clientMsgId: Type.Optional(ClientMsgIdSchema),
  id: MessageId,
  seq: Type.Integer({ minimum: 1, description: 'The position of the message in the sender\'s stream.' }),
  createdAt: Type.String({ format: 'date-time' })
}, { title: 'SentFrame', description: 'This connection\'s send is stored.' })

export const SyncedFrameSchema = Type.Object({
  type: Type.Literal('synced'),
  upTo: SeqSchema,
  more: Type.Boolean()
}, { title: 'SyncedFrame', description: 'The end of a sync page; with `more`, sync again from `upTo`.' })

export const TypingEventFrameSchema = Type.Object({
  type: Type.Literal('typing'),
  from: UserIdSchema,
  state: Type.Union([Type.Literal('start'), Type.Literal('stop')])
}, { title: 'TypingEventFrame', description: 'A user started or stopped typing to this user.' })

export const PresenceFrameSchema = Type.Object({
  type: Type.Literal('presence'),
  userId: UserIdSchema,
  online: Type.Boolean(),
  lastSeen: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
}, { title: 'PresenceFrame', description: 'After `watch`, and when a watched user goes online or offline.' })

export const ReceiptFrameSchema = Type.Object({
  type: Type.Literal('receipt'),
  kind: Type.Union([Type.Literal('delivered'), Type.Literal('read')]),
  peer: UserIdSchema,
  by: UserIdSchema,
  upTo: MessageId
}, { title: 'ReceiptFrame', description: '`by` acknowledged (delivered) or read the messages of the conversation with `peer` up to message id `upTo`.' })

export const AuthenticatedFrameSchema = Type.Object({
  type: Type.Literal('authenticated'),
  expiresAt: Type.String({ format: 'date-time' })
}, { title: 'AuthenticatedFrame', description: 'A fresh token sent in an `auth` frame was accepted: the connection now lasts until it expires.' })

export const PongFrameSchema = Type.Object({ type: Type.Literal('pong') }, { title: 'PongFrame' })

export const ErrorFrameSchema = Type.Object({
  type: Type.Literal('error'),
  code: Type.String({ description: 'snake_case, stable (docs/errors.md)' }),
  message: Type.String(),
  ref: Type.Optional(Type.String({ description: 'The clientMsgId of the send it concerns; for an `edit` or `delete`, the message id.' })),
  retryAfter: Type.Optional(Type.Integer({ minimum: 0, description: 'With rate_limited: ms to wait before sending again.' }))
}, { title: 'ErrorFrame', description: 'A frame was refused; the connection stays open.' })

export const ServerFrameSchemas = [
  ReadyFrameSchema, MessageFrameSchema, EditedFrameSchema, DeletedFrameSchema, SentFrameSchema, SyncedFrameSchema, TypingEventFrameSchema,
  PresenceFrameSchema, ReceiptFrameSchema, AuthenticatedFrameSchema, PongFrameSchema, ErrorFrameSchema
] as const

export type ReadyFrame = Static<typeof ReadyFrameSchema>
export type MessageFrame = Static<typeof MessageFrameSchema>
export type EditedFrame = Static<typeof EditedFrameSchema>
export type DeletedFrame = Static<typeof DeletedFrameSchema>
export type SentFrame = Static<typeof SentFrameSchema>
export type SyncedFrame = Static<typeof SyncedFrameSchema>
export type TypingEventFrame = Static<typeof TypingEventFrameSchema>
export type PresenceFrame = Static<typeof PresenceFrameSchema>
export type ReceiptFrame = Static<typeof ReceiptFrameSchema>
export type AuthenticatedFrame = Static<typeof AuthenticatedFrameSchema>
export type PongFrame = Static<typeof PongFrameSchema>
export type ErrorFrame = Static<typeof ErrorFrameSchema>
export type ServerFrame = ReadyFrame | MessageFrame | EditedFrame | DeletedFrame | SentFrame | SyncedFrame | TypingEventFrame | PresenceFrame | ReceiptFrame | AuthenticatedFrame | PongFrame | ErrorFrame
