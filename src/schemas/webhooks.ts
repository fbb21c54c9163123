import { Type, type Static } from '@sinclair/typebox'
import { MAX_INTEGER, TimestampSchema } from './common.js'
import { WEBHOOK_EVENT_TYPES } from '../webhooks/events.js'

const EventTypeSchema = Type.Union(WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t)), { description: 'The event (docs/webhooks.md).' })
const StatusSchema = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed'), Type.Literal('skipped')], {
  description: '`pending`: not tried yet (or waiting for an earlier event of the same user); `delivered`: a 2xx came back; ' +
    '`failed`: the last attempt failed, tried again at `nextAttemptAt` (null: given up after 24 hours); `skipped`: a `message.undelivered` whose message was acknowledged in time'
})

export const DeliverySchema = Type.Object({
  id: Type.String({ description: 'The event\'s `webhook-id`: the same on every attempt.' }),
  type: EventTypeSchema,
  createdAt: TimestampSchema,
  status: StatusSchema,
  attempts: Type.Integer(),
  lastAttemptAt: Type.Union([TimestampSchema, Type.Null()]),
  lastStatus: Type.Union([Type.Integer(), Type.Null()], { description: 'The receiver\'s HTTP status on the last attempt; null when it did not answer.' }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  nextAttemptAt: Type.Union([TimestampSchema, Type.Null()])
}, { title: 'WebhookDelivery' })
export type Delivery = Static<typeof DeliverySchema>

export const DeliveryListQuerySchema = Type.Object({
  status: Type.Optional(StatusSchema),
  before: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_INTEGER, description: 'The `nextBefore` of the previous page.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 }))
})

export const DeliveryListSchema = Type.Object({
  deliveries: Type.Array(DeliverySchema, { description: 'Newest first. Delivered events are kept for an hour, failed ones for 7 days.' }),
  nextBefore: Type.Union([Type.Integer(), Type.Null()], { description: 'Pass as `before` for the next (older) page; null when there is none.' })
}, { title: 'WebhookDeliveryList' })

export const DeliveryParamsSchema = Type.Object({ id: Type.String({ pattern: '^evt_[0-9a-f]{32}$', description: 'A `webhook-id`.' }) })

export const RetryResultSchema = Type.Object({
  id: Type.String(),
  status: Type.Literal('scheduled', { description: 'It is tried again now (after any earlier event of the same user).' })
}, { title: 'WebhookRetry' })
