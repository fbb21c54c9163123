import type { Message } from '../schemas/common.js'
import { seqFor, type StoredMessage, type StreamEntry } from '../store/store.js'

/** A stored message as `viewer` (one of its parties) sees it over HTTP. */
export function messageBody (m: StoredMessage, viewer: string): Message {
  return {
    id: m.id,
    seq: seqFor(m, viewer),
    from: m.from,
    to: m.to,
    content: m.content,
    createdAt: new Date(m.createdAt).toISOString(),
    clientMsgId: m.clientMsgId ?? undefined,
    editedAt: m.editedAt === null ? undefined : new Date(m.editedAt).toISOString(),
    deletedAt: m.deletedAt === null ? undefined : new Date(m.deletedAt).toISOString()
  }
}

/** A stream entry over HTTP (GET /v1/sync): the message as it is now, at the entry's seq, and what the entry records. */
export function entryBody (entry: StreamEntry, viewer: string): Message {
  const body = messageBody(entry.message, viewer)
  body.seq = entry.seq
  if (entry.kind !== 'message') body.kind = entry.kind
  return body
}
