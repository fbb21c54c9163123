import { Type, type Static } from '@sinclair/typebox'
import { TimestampSchema, UserIdSchema } from './common.js'

export const CreateUserSchema = Type.Object({
  id: UserIdSchema,
  password: Type.Optional(Type.String({ minLength: 8, maxLength: 1024, description: 'Required unless a service creates the user.' })),
  displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Defaults to the id.' }))
}, { additionalProperties: false, title: 'CreateUser' })
export type CreateUser = Static<typeof CreateUserSchema>

export const UserSchema = Type.Object({
  id: UserIdSchema,
  displayName: Type.String(),
  createdAt: TimestampSchema
}, { title: 'User' })
export type User = Static<typeof UserSchema>

export const UserParamsSchema = Type.Object({ id: UserIdSchema })
export type UserParams = Static<typeof UserParamsSchema>
