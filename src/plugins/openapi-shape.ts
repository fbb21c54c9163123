// Shapes the OpenAPI document @fastify/swagger generates for client generators: operation
// ids, named schemas behind $ref, every status a route can answer, public routes marked so.

type Json = Record<string, any>

/** Every operation's id; a route missing here fails the document's generation (and its test). */
const OPERATION_IDS: Record<string, string> = {
  'post /v1/users': 'createUser',
  'get /v1/users/{id}': 'getUser',
  'patch /v1/users/{id}': 'updateUser',
  'delete /v1/users/{id}': 'deleteUser',
  'post /v1/users/{id}/tokens': 'mintUserToken',
  'delete /v1/users/{id}/sessions': 'revokeUserSessions',
  'post /v1/auth/login': 'login',
  'post /v1/auth/token': 'serviceToken',
  'post /v1/auth/refresh': 'refreshToken',
  'post /v1/auth/logout': 'logout',
  'post /v1/messages': 'sendMessage',
  'patch /v1/messages/{id}': 'editMessage',
  'delete /v1/messages/{id}': 'deleteMessage',
  'get /v1/conversations/{peer}/messages': 'getHistory',
  'get /v1/sync': 'syncStream',
  'get /v1/conversations': 'listConversations',
  'post /v1/conversations/{peer}/read': 'markRead',
  'get /v1/presence/{userId}': 'getPresence',
  'get /v1/presence': 'listPresence',
  'get /v1/ws': 'openWebSocket',
  'put /v1/blocks/{userId}': 'blockUser',
  'delete /v1/blocks/{userId}': 'unblockUser',
  'get /v1/blocks': 'listBlocks',
  'get /v1/webhooks/deliveries': 'listWebhookDeliveries',
  'post /v1/webhooks/deliveries/{id}/retry': 'retryWebhookDelivery',
  'get /healthz': 'health',
  'get /readyz': 'readiness',
  'get /metrics': 'metrics'
}

const DESCRIPTIONS: Record<string, string> = {
  101: 'Switching Protocols: the WebSocket is open (docs/protocol.md, openapi/asyncapi.json)',
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad request (`error.code` says what)',
  401: 'No token, or an invalid or expired one',
  403: 'Not allowed for this caller',
  404: 'Not found',
  409: 'Conflict',
  413: 'Body larger than DUOLOG_MAX_FRAME_BYTES',
  415: 'Body is not application/json',
  426: 'Upgrade required: this route is the WebSocket',
  429: 'Rate limited: retry after `Retry-After` seconds',
  503: 'Not available now (shutting down, or the store cannot write): retry, elsewhere if you can'
}

const ERROR_REF = { $ref: '#/components/schemas/Error' }
const errorResponse = (status: string): Json => ({ description: DESCRIPTIONS[status], content: { 'application/json': { schema: ERROR_REF } } })
const RETRY_AFTER = { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } } }

/** @fastify/rate-limit's headers, on the routes it limits per client address. */
const RATE_LIMIT_HEADERS = {
  'x-ratelimit-limit': { description: 'Requests allowed per window (DUOLOG_AUTH_RATE_LIMIT per minute)', schema: { type: 'integer' } },
  'x-ratelimit-remaining': { description: 'Requests left in this window', schema: { type: 'integer' } },
  'x-ratelimit-reset': { description: 'Seconds until the window resets', schema: { type: 'integer' } }
}
const PER_ADDRESS = new Set(['createUser', 'login', 'serviceToken', 'refreshToken'])

/** Routes limited per address, per account or per user: they can answer 429. */
const RATE_LIMITED = new Set(['createUser', 'login', 'serviceToken', 'refreshToken', 'sendMessage', 'getHistory', 'syncStream', 'openWebSocket'])

/** Moves every schema with a `title` into components.schemas and points at it. */
function nameSchemas (node: unknown, schemas: Json, top = true): unknown {
  if (Array.isArray(node)) return node.map((item) => nameSchemas(item, schemas, false))
  if (node === null || typeof node !== 'object') return node
  const copy: Json = {}
  for (const [key, value] of Object.entries(node as Json)) copy[key] = nameSchemas(value, schemas, false)
  const title = copy.title
  if (!top && typeof title === 'string' && (copy.type === 'object' || copy.properties !== undefined)) {
    schemas[title] = copy
    return { $ref: `#/components/schemas/${title}` }
  }
  return copy
}

export function shapeForClients (document: Json): Json {
  const schemas: Json = { ...(document.components?.schemas ?? {}) }
  const paths: Json = {}
  for (const [path, item] of Object.entries(document.paths as Json)) {
    paths[path] = {}
    for (const [method, operation] of Object.entries(item as Json)) {
      const op = nameSchemas(operation, schemas) as Json
      const operationId = OPERATION_IDS[`${method} ${path}`]
      if (operationId === undefined) throw new Error(`no operationId for ${method.toUpperCase()} ${path}: add one to src/plugins/openapi-shape.ts`)
      op.operationId = operationId
      op.security ??= []
      const responses: Json = op.responses ?? {}
      for (const [status, response] of Object.entries(responses)) {
        if ((response as Json).description === 'Default Response') (response as Json).description = DESCRIPTIONS[status] ?? 'Response'
      }
      if (op.requestBody !== undefined) {
        responses['413'] ??= errorResponse('413')
        responses['415'] ??= errorResponse('415')
        responses['400'] ??= errorResponse('400')
      }
      // Any route refuses a token in the URL (400 token_in_url).
      responses['400'] ??= errorResponse('400')
      if (RATE_LIMITED.has(operationId)) responses['429'] ??= errorResponse('429')
      if (responses['429'] !== undefined) responses['429'].headers = PER_ADDRESS.has(operationId) ? { ...RETRY_AFTER, ...RATE_LIMIT_HEADERS } : RETRY_AFTER
      if (operationId === 'openWebSocket') responses['101'] = { description: DESCRIPTIONS[101] }
      responses['503'] ??= errorResponse('503')
      op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)))
      paths[path][method] = op
    }
  }
  return {
    ...document,
    // Relative: the duolog that serves this document (http://localhost:3000 after `npm start`).
    servers: [{ url: '/', description: 'The duolog serving this document' }],
    paths,
    components: { ...document.components, schemas }
  }
}
