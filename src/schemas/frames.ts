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

export type ClientFrame = AuthFrame | SendFrame | SyncFrame | AckFrame | PingFrame | TypingFrame | ReadFrame | WatchFrame
