// Writes client/src/protocol.ts, the SDK's types, from the server's own TypeBox schemas
// (test/client/protocol.test.ts fails while it is stale): `npm run client-types`.
import { writeFileSync } from 'node:fs'
import type { TSchema } from '@sinclair/typebox'
import * as frames from '../src/schemas/frames.js'
import { ErrorSchema, MessageSchema } from '../src/schemas/common.js'
import { EditMessageSchema, HistoryPageSchema, SendMessageSchema, SentMessageSchema, SyncPageSchema } from '../src/schemas/messages.js'
import { ConversationListSchema, ConversationSchema, ReadMarkerResultSchema } from '../src/schemas/conversations.js'
import { PresenceListSchema, PresenceSchema } from '../src/schemas/presence.js'
import { CreateUserSchema, UserSchema } from '../src/schemas/users.js'
import { LoginSchema, RefreshSchema, SessionTokenSchema, TokenSchema } from '../src/schemas/auth.js'

type Schema = TSchema & { [key: string]: any }
const OPTIONAL = Symbol.for('TypeBox.Optional')

/** Titles of the schemas exported by name: a nested one is written as its name. */
const byTitle = new Map<string, string>()

/** TypeScript for a JSON schema of the shapes duolog's schemas use. */
function typeOf (s: Schema, indent: string, top = false): string {
  if (!top && typeof s.title === 'string' && byTitle.has(s.title)) return byTitle.get(s.title) as string
  if (s.const !== undefined) return typeof s.const === 'string' ? `'${s.const}'` : String(s.const)
  if (s.anyOf !== undefined) return (s.anyOf as Schema[]).map((member) => typeOf(member, indent)).join(' | ')
  if (Array.isArray(s.enum)) return (s.enum as string[]).map((v) => `'${v}'`).join(' | ')
  switch (s.type) {
    case 'string': return 'string'
    case 'integer':
    case 'number': return 'number'
    case 'boolean': return 'boolean'
    case 'null': return 'null'
    case 'array': return `Array<${typeOf(s.items as Schema, indent)}>`
    case 'object': {
      const required = new Set<string>(s.required ?? [])
      const inner = indent + '  '
      const fields = Object.entries(s.properties as Record<string, Schema>).map(([name, field]) => {
        const doc = field.description === undefined ? '' : `${inner}/** ${String(field.description)} */\n`
        const optional = !required.has(name) || (field as unknown as Record<symbol, unknown>)[OPTIONAL] === 'Optional' ? '?' : ''
        return `${doc}${inner}${name}${optional}: ${typeOf(field, inner)}`
      })
      return `{\n${fields.join('\n')}\n${indent}}`
    }
  }
  throw new Error(`no TypeScript for ${JSON.stringify(s)}`)
}

const named: Record<string, TSchema> = {
  // Client -> server frames
  AuthFrame: frames.AuthFrameSchema,
  SendFrame: frames.SendFrameSchema,
  SyncFrame: frames.SyncFrameSchema,
  AckFrame: frames.AckFrameSchema,
  PingFrame: frames.PingFrameSchema,
  TypingFrame: frames.TypingFrameSchema,
  ReadFrame: frames.ReadFrameSchema,
  WatchFrame: frames.WatchFrameSchema,
  EditFrame: frames.EditFrameSchema,
  DeleteFrame: frames.DeleteFrameSchema,
  // Server -> client frames
  ReadyFrame: frames.ReadyFrameSchema,
  MessageFrame: frames.MessageFrameSchema,
  EditedFrame: frames.EditedFrameSchema,
  DeletedFrame: frames.DeletedFrameSchema,
  SentFrame: frames.SentFrameSchema,
  SyncedFrame: frames.SyncedFrameSchema,
  TypingEventFrame: frames.TypingEventFrameSchema,
  PresenceFrame: frames.PresenceFrameSchema,
  ReceiptFrame: frames.ReceiptFrameSchema,
  AuthenticatedFrame: frames.AuthenticatedFrameSchema,
  PongFrame: frames.PongFrameSchema,
  ErrorFrame: frames.ErrorFrameSchema,
  // REST bodies
  Message: MessageSchema,
  ErrorBody: ErrorSchema,
  SendMessage: SendMessageSchema,
  EditMessage: EditMessageSchema,
  SentMessage: SentMessageSchema,
  HistoryPage: HistoryPageSchema,
  SyncPage: SyncPageSchema,
  Conversation: ConversationSchema,
  ConversationList: ConversationListSchema,
  ReadMarkerResult: ReadMarkerResultSchema,
  Presence: PresenceSchema,
  PresenceList: PresenceListSchema,
  CreateUser: CreateUserSchema,
  User: UserSchema,
  Login: LoginSchema,
  Refresh: RefreshSchema,
  SessionToken: SessionTokenSchema,
  Token: TokenSchema
}

export function clientTypes (): string {
  const out = ['// Generated from the server\'s schemas by `npm run client-types`: do not edit.', '']
  for (const [name, schema] of Object.entries(named)) {
    const title = (schema as Schema).title
    if (typeof title === 'string') byTitle.set(title, name)
  }
  for (const [name, schema] of Object.entries(named)) {
    const s = schema as Schema
    if (s.description !== undefined) out.push(`/** ${String(s.description)} */`)
    out.push(`export type ${name} = ${typeOf(s, '', true)}`, '')
  }
  out.push('export type ClientFrame = AuthFrame | SendFrame | SyncFrame | AckFrame | PingFrame | TypingFrame | ReadFrame | WatchFrame | EditFrame | DeleteFrame')
  out.push('export type ServerFrame = ReadyFrame | MessageFrame | EditedFrame | DeletedFrame | SentFrame | SyncedFrame | TypingEventFrame | PresenceFrame | ReceiptFrame | AuthenticatedFrame | PongFrame | ErrorFrame')
  return out.join('\n') + '\n'
}

export const CLIENT_TYPES_FILE = new URL('../client/src/protocol.ts', import.meta.url)

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) {
  writeFileSync(CLIENT_TYPES_FILE, clientTypes())
  process.stdout.write(`wrote ${CLIENT_TYPES_FILE.pathname}\n`)
}
