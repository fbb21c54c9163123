import type { Message } from '../schemas/common.js'
import { seqFor, type StoredMessage } from '../store/store.js'

/** A stored message as `viewer` (one of its parties) sees it over HTTP. */
export function messageBody (m: StoredMessage, viewer: string): Message {
  return {
    id: m.id,
    seq: seqFor(m, viewer),
    from: m.from,
    to: m.to,
    content: m.content,
    createdAt: new Date(m.createdAt).toISOString(),
    clientMsgId: m.clientMsgId ?? undefined
  }
}
