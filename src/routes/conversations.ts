import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorSchema, authErrors } from '../schemas/common.js'
import { PeerParamsSchema } from '../schemas/messages.js'
import { ConversationListQuerySchema, ConversationListSchema, ReadMarkerResultSchema, ReadMarkerSchema } from '../schemas/conversations.js'
import { messageBody } from './bodies.js'
import { principalOf, requireUser } from './guards.js'

const MAX_PAGE = 100

const conversations: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config, store, relay } = fastify
  // Every route here: a user's token.
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('onRequest', requireUser)

  fastify.get('/v1/conversations', {
    schema: {
      tags: ['conversations'],
      summary: 'The caller\'s conversations, most recent first, with unread counts and receipts',
      security: [{ bearerAuth: [] }],
      querystring: ConversationListQuerySchema,
      response: { 200: ConversationListSchema, ...authErrors, 403: ErrorSchema }
    }
  }, async (request) => {
    const me = principalOf(request).id
    const limit = Math.min(request.query.limit ?? 50, MAX_PAGE)
    const page = await store.conversations(me, { before: request.query.before, limit: limit + 1 })
    const more = page.length > limit
    const shown = more ? page.slice(0, limit) : page
    return {
      conversations: shown.map((c) => ({
        peer: c.peer,
        lastMessage: messageBody(c.lastMessage, me),
        unread: c.unread,
        readUpTo: c.readUpTo,
        peerReadUpTo: config.readReceipts ? c.peerReadUpTo : null,
        peerDeliveredUpTo: c.peerDeliveredUpTo
      })),
      nextBefore: more ? (shown[shown.length - 1]?.lastMessage.id ?? null) : null
    }
  })

  fastify.post('/v1/conversations/:peer/read', {
    schema: {
      tags: ['conversations'],
      summary: 'Mark the conversation read up to a message',
      description: 'Same as the WebSocket `read` frame: the peer\'s devices get a `read` receipt (unless read receipts are off) and so do all of the caller\'s devices.',
      security: [{ bearerAuth: [] }],
      params: PeerParamsSchema,
      body: ReadMarkerSchema,
      response: { 200: ReadMarkerResultSchema, ...authErrors, 403: ErrorSchema, 404: ErrorSchema }
    }
  }, async (request) => {
    const me = principalOf(request).id
    const readUpTo = await relay.receipts.read(me, request.params.peer, request.body.upTo)
    return { peer: request.params.peer, readUpTo }
  })
}

export default conversations
