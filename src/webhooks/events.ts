/** Every event a webhook can carry (DUOLOG_WEBHOOK_EVENTS picks among them). */
export const WEBHOOK_EVENT_TYPES = [
  'message.created',
  'message.undelivered',
  'message.read',
  'message.edited',
  'message.deleted',
  'user.deleted'
] as const

export type WebhookEventType = typeof WEBHOOK_EVENT_TYPES[number]

export function isWebhookEventType (value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value)
}
