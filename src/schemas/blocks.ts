import { Type, type Static } from '@sinclair/typebox'
import { TimestampSchema, USER_ID_PATTERN, UserIdSchema } from './common.js'

export const BlockParamsSchema = Type.Object({ userId: UserIdSchema })

export const BlockQuerySchema = Type.Object({
  as: Type.Optional(Type.String({ pattern: USER_ID_PATTERN, description: 'Services only: the user whose blocks these are.' }))
})
export type BlockQuery = Static<typeof BlockQuerySchema>

export const BlockSchema = Type.Object({
  userId: UserIdSchema,
  createdAt: TimestampSchema
}, { title: 'Block' })

export const BlockListSchema = Type.Object({
  blocks: Type.Array(BlockSchema, { description: 'The users the caller blocks, most recent first.' })
}, { title: 'BlockList' })
