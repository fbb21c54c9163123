import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { ErrorSchema, authErrors } from '../schemas/common.js'
import { BlockListSchema, BlockParamsSchema, BlockQuerySchema, type BlockQuery } from '../schemas/blocks.js'
import { Errors } from '../errors.js'
import { principalOf } from './guards.js'

const DESCRIPTION = 'A blocked user\'s messages to the blocker are answered as if stored, but only the sender\'s stream gets them: the blocker never ' +
  'sees them, live or in history, and they count as nothing unread. Presence and typing are hidden both ways while the block lasts. ' +
  'Existing history stays. A service acts for a user with `?as=<userId>`.'

const blocks: FastifyPluginAsyncTypebox = async (fastify) => {
  const { store, relay } = fastify
  fastify.addHook('onRequest', fastify.authenticate)

  /** Whose blocks: the calling user's, or (services) the user named by `as`. */
  const ownerOf = (request: FastifyRequest): string => {
    const principal = principalOf(request)
    const { as } = request.query as BlockQuery
    if (principal.kind === 'service') {
      if (as === undefined) throw new Errors.InvalidRequest('a service says whose blocks these are: ?as=<userId>')
      return as
    }
    if (as !== undefined && as !== principal.id) throw new Errors.Forbidden('a user manages their own blocks only')
    return principal.id
  }

  fastify.put('/v1/blocks/:userId', {
    schema: {
      tags: ['blocks'],
      summary: 'Block a user',
      description: DESCRIPTION,
      security: [{ bearerAuth: [] }],
      params: BlockParamsSchema,
      querystring: BlockQuerySchema,
      response: { 204: Type.Null(), ...authErrors, 403: ErrorSchema, 404: ErrorSchema }
    }
  }, async (request, reply) => {
    const blocker = ownerOf(request)
    const { userId } = request.params
    if (userId === blocker) throw new Errors.InvalidRequest('a user cannot block themself')
    for (const id of [blocker, userId]) if (await store.getUser(id) === undefined) throw new Errors.UnknownUser(id)
    await store.block(blocker, userId, Date.now())
    relay.hub.hideEachOther(blocker, userId)
    return await reply.code(204).send(null)
  })

  fastify.delete('/v1/blocks/:userId', {
    schema: {
      tags: ['blocks'],
      summary: 'Unblock a user',
      description: 'Their messages reach the caller again from now on (not those sent during the block). Answers 204 whether or not there was a block.',
      security: [{ bearerAuth: [] }],
      params: BlockParamsSchema,
      querystring: BlockQuerySchema,
      response: { 204: Type.Null(), ...authErrors, 403: ErrorSchema }
    }
  }, async (request, reply) => {
    await store.unblock(ownerOf(request), request.params.userId)
    return await reply.code(204).send(null)
  })

  fastify.get('/v1/blocks', {
    schema: {
      tags: ['blocks'],
      summary: 'The users the caller blocks',
      security: [{ bearerAuth: [] }],
      querystring: BlockQuerySchema,
      response: { 200: BlockListSchema, ...authErrors, 403: ErrorSchema }
    }
  }, async (request) => {
    const list = await store.blocksOf(ownerOf(request))
    return { blocks: list.map((b) => ({ userId: b.userId, createdAt: new Date(b.createdAt).toISOString() })) }
  })
}

export default blocks
