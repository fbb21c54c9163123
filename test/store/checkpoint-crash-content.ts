/** A message's content in test/store/checkpoint-crash: made from its clientMsgId, so that a retry can send the same. */
export function contentOf (clientMsgId: string): string {
  return `message ${clientMsgId} `.padEnd(200, '.')
}
