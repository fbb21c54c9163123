import { Type, type Static } from '@sinclair/typebox'
import { USER_ID_PATTERN, ClientMsgIdSchema, ContentSchema, MAX_INTEGER, MessageSchema, SeqSchema, TimestampSchema, UserIdSchema } from './common.js'

export const SendMessageSchema = Type.Object({
  to: UserIdSchema,
  content: ContentSchema,
  clientMsgId: Type.Optional(ClientMsgIdSchema),
  from: Type.Optional(Type.String({ pattern: USER_ID_PATTERN, description: 'Services only: the user the message is sent as.' }))
}, { additionalProperties: false, title: 'SendMessage', examples: [{ to: 'bob', content: 'Are you there?', clientMsgId: '3f0c-1' }] })
export type SendMessage = Static<typeof SendMessageSchema>

export const SentMessageSchema = Type.Object({
  id: Type.Integer(),
  seq: Type.Integer({ description: 'The position of the message in the sender\'s stream.' }),
  from: UserIdSchema,
  to: UserIdSchema,
  createdAt: TimestampSchema,
  clientMsgId: Type.Optional(ClientMsgIdSchema)
}, { title: 'SentMessage' })
export type SentMessage = Static<typeof SentMessageSchema>

export const MessageParamsSchema = Type.Object({ id: Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'A message id.' }) })

export const EditMessageSchema = Type.Object({
  content: ContentSchema
}, { additionalProperties: false, title: 'EditMessage' })

export const PeerParamsSchema = Type.Object({ peer: UserIdSchema })
export type PeerParams = Static<typeof PeerParamsSchema>

export const HistoryQuerySchema = Type.Object({
  before: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'Only messages with a smaller id (exclusive).' })),
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'Only messages with a larger id (exclusive).' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER, default: 50, description: 'At most DUOLOG_MAX_HISTORY_PAGE (default 200).' }))
})
export type HistoryQuery = Static<typeof HistoryQuerySchema>

export const HistoryPageSchema = Type.Object({
  messages: Type.Array(MessageSchema, { description: 'Newest first.' }),
  nextBefore: Type.Union([Type.Integer(), Type.Null()], { description: 'Pass as `before` for the next (older) page; null when there is none.' })
}, { title: 'HistoryPage' })
export type HistoryPage = Static<typeof HistoryPageSchema>

export const SyncQuerySchema = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_INTEGER, default: 0, description: 'Return stream entries with a larger seq.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER, default: 100, description: 'At most DUOLOG_MAX_SYNC_PAGE (default 500).' }))
})
export type SyncQuery = Static<typeof SyncQuerySchema>

export const SyncPageSchema = Type.Object({
  messages: Type.Array(MessageSchema, { description: 'Oldest first, seq dense from after + 1.' }),
  upTo: SeqSchema,
  more: Type.Boolean({ description: 'true when the stream has entries after upTo: call again with after = upTo.' })
}, { title: 'SyncPage' })
export type SyncPage = Static<typeof SyncPageSchema>
