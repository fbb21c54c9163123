import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { TSchema } from '@sinclair/typebox'
import { AckFrameSchema, AuthFrameSchema, DeleteFrameSchema, EditFrameSchema, PingFrameSchema, SendFrameSchema, SyncFrameSchema, TypingFrameSchema, ReadFrameSchema, WatchFrameSchema, type ClientFrame } from '../schemas/frames.js'
import { Errors, type PublicError, toPublicError } from '../errors.js'
import type { StoredMessage, StreamEntry } from '../store/store.js'

const validators: Record<string, TypeCheck<TSchema>> = {
  auth: TypeCompiler.Compile(AuthFrameSchema),
  send: TypeCompiler.Compile(SendFrameSchema),
  sync: TypeCompiler.Compile(SyncFrameSchema),
  ack: TypeCompiler.Compile(AckFrameSchema),
  ping: TypeCompiler.Compile(PingFrameSchema),
  typing: TypeCompiler.Compile(TypingFrameSchema),
  read: TypeCompiler.Compile(ReadFrameSchema),
  watch: TypeCompiler.Compile(WatchFrameSchema),
  unwatch: TypeCompiler.Compile(WatchFrameSchema),
  edit: TypeCompiler.Compile(EditFrameSchema),
  delete: TypeCompiler.Compile(DeleteFrameSchema)
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
  const ref = typeof record.clientMsgId === 'string'
    ? record.clientMsgId.slice(0, 128)
    : (record.type === 'edit' || record.type === 'delete') && Number.isSafeInteger(record.id) ? String(record.id) : undefined
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
// Built by hand: only the strings need JSON escaping, and a batch shares its timestamps.

let isoMs = -1
let isoText = ''
/** ISO 8601 text of a time in ms; consecutive messages often share the millisecond. */
function iso (ms: number): string {
  if (ms !== isoMs) {
    isoMs = ms
    isoText = new Date(ms).toISOString()
  }
  return isoText
}

const clientMsgIdField = (m: StoredMessage): string => m.clientMsgId === null ? '' : `,"clientMsgId":${JSON.stringify(m.clientMsgId)}`

const changeFields = (m: StoredMessage): string =>
  (m.editedAt === null ? '' : `,"editedAt":"${new Date(m.editedAt).toISOString()}"`) + (m.deletedAt === null ? '' : `,"deletedAt":"${new Date(m.deletedAt).toISOString()}"`)

/** A message as it is now (content "" and deletedAt once deleted; editedAt once edited). */
export function messageFrame (m: StoredMessage, seq: number, body = entryBody(m)): string {
  return `{"type":"message","id":${m.id},"seq":${seq},${body}`
}

/** A change of a message (edited or deleted), with the message as it is now. */
export function changeFrame (kind: 'edited' | 'deleted', m: StoredMessage, seq: number, body = entryBody(m)): string {
  return `{"type":"${kind}","id":${m.id},"seq":${seq},${body}`
}

/**
 * What follows the seq in a stream entry's frame: the same in the sender's and the
 * recipient's stream, so a message published to both is escaped and formatted once.
 */
export function entryBody (m: StoredMessage): string {
  return `"from":${JSON.stringify(m.from)},"to":${JSON.stringify(m.to)},` +
    `"content":${JSON.stringify(m.content)},"createdAt":"${iso(m.createdAt)}"${clientMsgIdField(m)}${changeFields(m)}}`
}

/** The frame of a stream entry read from the store. */
export function entryFrame (entry: StreamEntry): string {
  return entry.kind === 'message' ? messageFrame(entry.message, entry.seq) : changeFrame(entry.kind, entry.message, entry.seq)
}

export function sentFrame (m: StoredMessage): string {
  const clientMsgId = m.clientMsgId === null ? '' : `"clientMsgId":${JSON.stringify(m.clientMsgId)},`
  return `{"type":"sent",${clientMsgId}"id":${m.id},"seq":${m.senderSeq},"createdAt":"${iso(m.createdAt)}"}`
}

export function errorFrame (error: Pick<PublicError, 'code' | 'message' | 'retryAfterMs'>, ref?: string): string {
  return JSON.stringify({ type: 'error', code: error.code, message: error.message, ref, retryAfter: error.retryAfterMs })
}

export const PONG_FRAME = '{"type":"pong"}'

export function typingFrame (from: string, state: 'start' | 'stop'): string {
  return `{"type":"typing","from":${JSON.stringify(from)},"state":"${state}"}`
}

/** `by` delivered (acknowledged) or read the messages of the conversation with `peer` up to message id `upTo`. */
export function receiptFrame (kind: 'delivered' | 'read', peer: string, by: string, upTo: number): string {
  return `{"type":"receipt","kind":"${kind}","peer":${JSON.stringify(peer)},"by":${JSON.stringify(by)},"upTo":${upTo}}`
}

export function presenceFrame (userId: string, online: boolean, lastSeen: string | null): string {
  return JSON.stringify({ type: 'presence', userId, online, lastSeen })
}
