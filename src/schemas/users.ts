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

export const UpdateUserSchema = Type.Object({
  displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  password: Type.Optional(Type.String({ minLength: 8, maxLength: 1024, description: 'A new password: ends every other session of the user.' })),
  currentPassword: Type.Optional(Type.String({ maxLength: 1024, description: 'Required of a user changing their password.' }))
}, { additionalProperties: false, title: 'UpdateUser' })
export type UpdateUser = Static<typeof UpdateUserSchema>

export const DeleteUserSchema = Type.Object({
  password: Type.Optional(Type.String({ maxLength: 1024, description: 'Required of a user deleting their own account.' }))
}, { additionalProperties: false, title: 'DeleteUser' })

export const UserParamsSchema = Type.Object({ id: UserIdSchema })
export type UserParams = Static<typeof UserParamsSchema>
