import { Type, type Static } from '@sinclair/typebox'
import { MAX_INTEGER, MessageSchema, UserIdSchema } from './common.js'

export const ConversationSchema = Type.Object({
  peer: UserIdSchema,
  lastMessage: MessageSchema,
  unread: Type.Integer({ minimum: 0, description: 'Messages from the peer after readUpTo.' }),
  readUpTo: Type.Integer({ minimum: 0, description: 'The caller\'s read marker (a message id; 0: none).' }),
  peerReadUpTo: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'How far the peer has read; null when read receipts are off.' }),
  peerDeliveredUpTo: Type.Integer({ minimum: 0, description: 'The caller\'s newest message that reached a device of the peer.' })
}, { title: 'Conversation' })
export type Conversation = Static<typeof ConversationSchema>

export const ConversationListQuerySchema = Type.Object({
  before: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'Only conversations whose last message id is smaller (the previous page\'s nextBefore).' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER, default: 50, description: 'At most 100.' }))
})
export type ConversationListQuery = Static<typeof ConversationListQuerySchema>

export const ConversationListSchema = Type.Object({
  conversations: Type.Array(ConversationSchema, { description: 'Most recent first.' }),
  nextBefore: Type.Union([Type.Integer(), Type.Null()])
}, { title: 'ConversationList' })
export type ConversationList = Static<typeof ConversationListSchema>

export const ReadMarkerSchema = Type.Object({
  upTo: Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'A message id: everything in the conversation up to it is read.' })
}, { additionalProperties: false, title: 'ReadMarker' })
export type ReadMarker = Static<typeof ReadMarkerSchema>

export const ReadMarkerResultSchema = Type.Object({
  peer: UserIdSchema,
  readUpTo: Type.Integer({ description: 'The marker now; it only moves forward, so an older upTo leaves it as it was.' })
}, { title: 'ReadMarkerResult' })
export type ReadMarkerResult = Static<typeof ReadMarkerResultSchema>
