import { Type, type Static } from '@sinclair/typebox'

export const LoginSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 1024 })
}, { additionalProperties: false })
export type Login = Static<typeof LoginSchema>

export const ServiceTokenRequestSchema = Type.Object({
  clientId: Type.String({ minLength: 1, maxLength: 64 }),
  clientSecret: Type.String({ minLength: 1, maxLength: 1024 })
}, { additionalProperties: false })
export type ServiceTokenRequest = Static<typeof ServiceTokenRequestSchema>

export const TokenSchema = Type.Object({
  accessToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Seconds until the token expires.' })
})
export type Token = Static<typeof TokenSchema>
