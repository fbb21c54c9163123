import { Type, type Static } from '@sinclair/typebox'
import { publicCodes } from '../errors.js'

/** `.` and `..` are refused: they would read as paths wherever an id lands in a URL. */
export const USER_ID_PATTERN = '^(?!\\.{1,2}$)[A-Za-z0-9_.-]{1,64}$'

export const UserIdSchema = Type.String({ pattern: USER_ID_PATTERN, description: 'A user id: 1 to 64 of A-Z a-z 0-9 _ . -, not "." or ".."' })
export const ClientMsgIdSchema = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'Chosen by the sender to make retries safe: a second send with the same clientMsgId stores nothing new and answers the original.'
})
export const ContentSchema = Type.String({
  minLength: 1,
  description: 'The message text: 1 to DUOLOG_MAX_CONTENT_LENGTH characters (default 4000).'
})
export const TimestampSchema = Type.String({ format: 'date-time' })
/** The largest integer a request may carry: ids and seqs stay below it, and every store keeps it exactly. */
export const MAX_INTEGER = Number.MAX_SAFE_INTEGER
export const SeqSchema = Type.Integer({ minimum: 0, maximum: MAX_INTEGER, description: 'A position in a user stream (dense, from 1).' })

export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String({ enum: publicCodes(), description: 'snake_case, stable (docs/errors.md)' }),
    message: Type.String()
  })
}, { title: 'Error' })
export type ErrorBody = Static<typeof ErrorSchema>

export const MessageSchema = Type.Object({
  id: Type.Integer({ description: 'Global message id; grows with time.' }),
  seq: Type.Integer({ description: 'The position of this message in the caller\'s stream.' }),
  from: UserIdSchema,
  to: UserIdSchema,
  content: Type.String(),
  createdAt: TimestampSchema,
  clientMsgId: Type.Optional(ClientMsgIdSchema),
  editedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the content was last edited.' })),
  deletedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the message was deleted (its content is then "").' })),
  kind: Type.Optional(Type.Union([Type.Literal('edited'), Type.Literal('deleted')], {
    description: 'GET /v1/sync only: this entry records an edit or a deletion of the message (shown as it is now), not the message itself.'
  }))
}, { title: 'Message' })
export type Message = Static<typeof MessageSchema>

/** Error responses every authenticated route can give. */
export const authErrors = {
  400: ErrorSchema,
  401: ErrorSchema
}
