import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ErrorSchema, MessageSchema, authErrors } from '../schemas/common.js'
import {
  EditMessageSchema, HistoryPageSchema, HistoryQuerySchema, MessageParamsSchema, PeerParamsSchema, SendMessageSchema, SentMessageSchema, SyncPageSchema, SyncQuerySchema
} from '../schemas/messages.js'
import { Errors, rateLimited } from '../errors.js'
import { readStreamPage, type StoredMessage } from '../store/store.js'
import { entryBody, messageBody } from './bodies.js'
import { principalOf, requireUser, slowRefusal } from './guards.js'

/** Default page sizes. */
const SYNC_PAGE = 100
const HISTORY_PAGE = 50

const messages: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, relay } = fastify
  // Every route here: a token; reading a stream or a conversation: a user's.
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.post('/v1/messages', {
    schema: {
      tags: ['messages'],
      summary: 'Send a message',
      description: 'Stored before the answer, then delivered live to every connected device of both users, exactly like a WebSocket send. ' +
        'A retry with the same clientMsgId answers 200 with the original and stores nothing.',
      security: [{ bearerAuth: [] }],
      body: SendMessageSchema,
      response: { 200: SentMessageSchema, 201: SentMessageSchema, ...authErrors, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 413: ErrorSchema, 429: ErrorSchema }
    }
  }, async (request, reply) => {
    const principal = principalOf(request)
    const { to, content, clientMsgId, from } = request.body
    let sender: string
    if (principal.kind === 'service') {
      if (from === undefined) throw new Errors.InvalidRequest('a service must say whom it sends as: "from"')
      // An unknown sender is refused by the store (404 not_found), in the same commit.
      sender = from
    } else {
      if (from !== undefined && from !== principal.id) throw new Errors.Forbidden('a user can only send as itself')
      sender = principal.id
    }
    const { message, duplicate } = await relay.delivery.send({ from: sender, to, content, clientMsgId, onBehalf: principal.kind === 'service' })
      .catch(slowRefusal)
    return reply.code(duplicate ? 200 : 201).send({
      id: message.id,
      seq: message.senderSeq,
      from: message.from,
      to: message.to,
      createdAt: new Date(message.createdAt).toISOString(),
      clientMsgId: message.clientMsgId ?? undefined
    })
  })

  fastify.patch('/v1/messages/:id', {
    schema: {
      tags: ['messages'],
      summary: 'Edit a message (its sender, or a service)',
      description: 'Every device of both users gets an `edited` frame (a new entry in both streams); history shows the new content and `editedAt`. ' +
        'With DUOLOG_EDIT_WINDOW_S, a user may edit only that long after sending (403).',
      security: [{ bearerAuth: [] }],
      params: MessageParamsSchema,
      body: EditMessageSchema,
      response: { 200: MessageSchema, ...authErrors, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 413: ErrorSchema }
    }
  }, async (request) => {
    const principal = principalOf(request)
    const message = await relay.changes.edit(principal, request.params.id, request.body.content)
    return messageBody(message, principal.kind === 'user' ? principal.id : message.from)
  })

  fastify.delete('/v1/messages/:id', {
    schema: {
      tags: ['messages'],
      summary: 'Delete a message for both users (its sender, or a service)',
      description: 'Its content is erased from the store; every device of both users gets a `deleted` frame, and history shows it as deleted, without content. ' +
        '409 `message_deleted` when it already was.',
      security: [{ bearerAuth: [] }],
      params: MessageParamsSchema,
      response: { 204: Type.Null(), ...authErrors, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema }
    }
  }, async (request, reply) => {
    await relay.changes.delete(principalOf(request), request.params.id)
    return await reply.code(204).send(null)
  })

  await fastify.register(async (group) => {
    const users = group.withTypeProvider<TypeBoxTypeProvider>()
    users.addHook('onRequest', requireUser)
    // Reading a page takes a turn of the user's read rate, shared with their sockets' syncs.
    users.addHook('onRequest', async (request) => {
      // The page asked for (its default, at most the largest page), before the query is validated.
      const fallback = request.routeOptions.url === '/v1/sync' ? SYNC_PAGE : HISTORY_PAGE
      const pageSize = Math.min(Number((request.query as { limit?: string }).limit ?? fallback) || fallback, Math.max(config.limits.maxSyncPage, config.limits.maxHistoryPage))
      const wait = relay.readLimits.take(principalOf(request).id, pageSize)
      if (wait === 0) return
      fastify.metrics.limited('read')
      await slowRefusal(rateLimited(wait))
    })

    users.get('/v1/conversations/:peer/messages', {
      schema: {
        tags: ['messages'],
        summary: 'A page of the conversation with a peer, newest first',
        description: 'Without bounds: the newest messages. `before` pages back in time; `after` limits the page to messages newer than an id. ' +
          'When the window holds more than `limit`, the newest of them are returned and `nextBefore` continues.',
        security: [{ bearerAuth: [] }],
        params: PeerParamsSchema,
        querystring: HistoryQuerySchema,
        response: { 200: HistoryPageSchema, ...authErrors, 403: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema }
      }
    }, async (request) => {
      const me = principalOf(request).id
      const { peer } = request.params
      // A deleted peer's conversation stays readable (its messages without content).
      if (await store.getUser(peer) === undefined && !await store.hasConversation(me, peer)) throw new Errors.UnknownUser(peer)
      const limit = Math.min(request.query.limit ?? HISTORY_PAGE, config.limits.maxHistoryPage)
      const page = await store.conversation(me, peer, { before: request.query.before, after: request.query.after, limit: limit + 1 })
      const more = page.length > limit
      const shown = more ? page.slice(0, limit) : page
      return {
        messages: shown.map((m) => messageBody(m, me)),
        nextBefore: more ? (shown[shown.length - 1] as StoredMessage).id : null
      }
    })

    users.get('/v1/sync', {
      schema: {
        tags: ['messages'],
        summary: 'The caller\'s stream after a seq, oldest first (for clients that poll)',
        security: [{ bearerAuth: [] }],
        querystring: SyncQuerySchema,
        response: { 200: SyncPageSchema, ...authErrors, 403: ErrorSchema, 429: ErrorSchema }
      }
    }, async (request) => {
      const me = principalOf(request).id
      const after = request.query.after ?? 0
      const limit = Math.min(request.query.limit ?? SYNC_PAGE, config.limits.maxSyncPage)
      const { entries, more } = await readStreamPage(store, me, after, limit)
      return {
        messages: entries.map((entry) => entryBody(entry, me)),
        upTo: entries[entries.length - 1]?.seq ?? after,
        more
      }
    })
  })
}

export default messages
