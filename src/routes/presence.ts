import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorSchema, authErrors, USER_ID_PATTERN } from '../schemas/common.js'
import { PresenceListSchema, PresenceParamsSchema, PresenceQuerySchema, PresenceSchema } from '../schemas/presence.js'
import { Errors } from '../errors.js'
import { principalOf } from './guards.js'

const MAX_IDS = 100
const USER_ID = new RegExp(USER_ID_PATTERN)

const presence: FastifyPluginAsyncTypebox = async (fastify) => {
  const { relay } = fastify
  // Every route here: a user's or a service's token.
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.get('/v1/presence/:userId', {
    schema: {
      tags: ['presence'],
      summary: 'Whether a user is connected, and when they were last seen',
      description: 'Users see their contacts\' presence by default (DUOLOG_PRESENCE_VISIBILITY); services see everyone\'s. A user the caller may not see answers 404, like an unknown one.',
      security: [{ bearerAuth: [] }],
      params: PresenceParamsSchema,
      response: { 200: PresenceSchema, ...authErrors, 404: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request) => {
    // A user the caller may not see is indistinguishable from one that does not exist.
    const [info] = await relay.presence.query([request.params.userId], principalOf(request))
    if (info === undefined) throw new Errors.UnknownUser(request.params.userId)
    return info
  })

  fastify.get('/v1/presence', {
    schema: {
      tags: ['presence'],
      summary: 'Presence of up to 100 users',
      description: 'Users the caller may not see are left out, like unknown ones.',
      security: [{ bearerAuth: [] }],
      querystring: PresenceQuerySchema,
      response: { 200: PresenceListSchema, ...authErrors, 503: ErrorSchema }
    }
  }, async (request) => {
    const ids = [...new Set(request.query.ids.split(',').map((id) => id.trim()).filter((id) => id !== ''))]
    if (ids.length > MAX_IDS) throw new Errors.InvalidRequest(`ids lists at most ${MAX_IDS} users`)
    const bad = ids.find((id) => !USER_ID.test(id))
    if (bad !== undefined) throw new Errors.InvalidRequest(`"${bad.slice(0, 80)}" is not a user id`)
    return { presence: await relay.presence.query(ids, principalOf(request)) }
  })
}

export default presence
