import { Type, type Static } from '@sinclair/typebox'
import { TimestampSchema, UserIdSchema } from './common.js'

export const PresenceSchema = Type.Object({
  userId: UserIdSchema,
  online: Type.Boolean(),
  connections: Type.Integer({ minimum: 0 }),
  lastSeen: Type.Union([TimestampSchema, Type.Null()], { description: 'Now while online; else when the last connection closed; null if never connected.' })
}, { title: 'Presence' })
export type Presence = Static<typeof PresenceSchema>

export const PresenceParamsSchema = Type.Object({ userId: UserIdSchema })
export type PresenceParams = Static<typeof PresenceParamsSchema>

export const PresenceQuerySchema = Type.Object({
  ids: Type.String({ minLength: 1, description: 'Comma-separated user ids, at most 100.' })
})
export type PresenceQuery = Static<typeof PresenceQuerySchema>

export const PresenceListSchema = Type.Object({
  presence: Type.Array(PresenceSchema, { description: 'One entry per known user the caller may see, in the order asked; the others are left out.' })
}, { title: 'PresenceList' })
export type PresenceList = Static<typeof PresenceListSchema>
