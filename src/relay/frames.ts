import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { TSchema } from '@sinclair/typebox'
import { AckFrameSchema, AuthFrameSchema, PingFrameSchema, SendFrameSchema, SyncFrameSchema, type ClientFrame } from '../schemas/frames.js'
import { Errors, type PublicError, toPublicError } from '../errors.js'
import type { StoredMessage } from '../store/store.js'

const validators: Record<string, TypeCheck<TSchema>> = {
  auth: TypeCompiler.Compile(AuthFrameSchema),
  send: TypeCompiler.Compile(SendFrameSchema),
  sync: TypeCompiler.Compile(SyncFrameSchema),
  ack: TypeCompiler.Compile(AckFrameSchema),
  ping: TypeCompiler.Compile(PingFrameSchema)
}

export type ParsedFrame =
  | { ok: true, frame: ClientFrame }
  | { ok: false, error: PublicError, ref: string | undefined }

/** Parses and validates one client frame. Never throws: a bad frame becomes an error to send back. */
export function parseClientFrame (text: string): ParsedFrame {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return fail(new Errors.InvalidFrame('the frame is not valid JSON'), undefined)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(new Errors.InvalidFrame('a frame is a JSON object with a "type"'), undefined)
  }
  const record = value as Record<string, unknown>
  const ref = typeof record.clientMsgId === 'string' ? record.clientMsgId.slice(0, 128) : undefined
  const type = record.type
  if (typeof type !== 'string') return fail(new Errors.InvalidFrame('"type" must be a string'), ref)
  const validator = Object.hasOwn(validators, type) ? validators[type] : undefined
  if (validator === undefined) return fail(new Errors.UnknownType(type.slice(0, 64)), ref)
  if (!validator.Check(value)) {
    const first = validator.Errors(value).First()
    const where = first === undefined || first.path === '' ? 'frame' : first.path.slice(1)
    return fail(new Errors.InvalidFrame(`${where}: ${first?.message ?? 'invalid'}`), ref)
  }
  return { ok: true, frame: value as ClientFrame }
}

function fail (err: Error, ref: string | undefined): ParsedFrame {
  return { ok: false, error: toPublicError(err), ref }
}

// Server -> client frames, serialized once and sent as they are to every connection.

export function messageFrame (m: StoredMessage, seq: number): string {
  return JSON.stringify({
    type: 'message',
    id: m.id,
    seq,
    from: m.from,
    to: m.to,
    content: m.content,
    createdAt: new Date(m.createdAt).toISOString(),
    clientMsgId: m.clientMsgId ?? undefined
  })
}

export function sentFrame (m: StoredMessage): string {
  return JSON.stringify({
    type: 'sent',
    clientMsgId: m.clientMsgId ?? undefined,
    id: m.id,
    seq: m.senderSeq,
    createdAt: new Date(m.createdAt).toISOString()
  })
}

export function errorFrame (error: Pick<PublicError, 'code' | 'message'>, ref?: string): string {
  return JSON.stringify({ type: 'error', code: error.code, message: error.message, ref })
}

export const PONG_FRAME = '{"type":"pong"}'
