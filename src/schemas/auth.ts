import { Type, type Static } from '@sinclair/typebox'

export const LoginSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 1024 })
}, { additionalProperties: false, title: 'Login', examples: [{ id: 'alice', password: 'correct horse battery staple' }] })
export type Login = Static<typeof LoginSchema>

export const ServiceTokenRequestSchema = Type.Object({
  clientId: Type.String({ minLength: 1, maxLength: 64 }),
  clientSecret: Type.String({ minLength: 1, maxLength: 1024 })
}, { additionalProperties: false, title: 'ServiceTokenRequest' })
export type ServiceTokenRequest = Static<typeof ServiceTokenRequestSchema>

export const TokenSchema = Type.Object({
  accessToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Seconds until the token expires.' })
}, { title: 'Token' })
export type Token = Static<typeof TokenSchema>

export const SessionTokenSchema = Type.Object({
  accessToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires.' }),
  refreshToken: Type.String({ description: 'Single use: POST /v1/auth/refresh answers a new pair. Using one twice ends the session.' }),
  refreshExpiresIn: Type.Integer({ description: 'Seconds until the refresh token expires.' })
}, { title: 'SessionToken' })
export type SessionToken = Static<typeof SessionTokenSchema>

export const RefreshSchema = Type.Object({
  refreshToken: Type.String({ minLength: 1, maxLength: 256 })
}, { additionalProperties: false, title: 'Refresh' })
export type Refresh = Static<typeof RefreshSchema>
