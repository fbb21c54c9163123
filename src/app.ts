import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { redactCredentials } from './auth/tokens.js'
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import cors from '@fastify/cors'
import type { Config } from './config.js'
import { Errors, toPublicError } from './errors.js'
import { validatorCompiler } from './validation.js'
import configPlugin from './plugins/config.js'
import metricsPlugin from './plugins/metrics.js'
import storePlugin from './plugins/store.js'
import authPlugin from './plugins/auth.js'
import relayPlugin from './plugins/relay.js'
import webhooksPlugin from './plugins/webhooks.js'
import websocketPlugin from './plugins/websocket.js'
import busPlugin from './plugins/bus.js'
import presencePlugin from './plugins/presence.js'
import openapiPlugin from './plugins/openapi.js'
import healthRoutes from './routes/health.js'
import userRoutes from './routes/users.js'
import authRoutes from './routes/auth.js'
import messageRoutes from './routes/messages.js'
import conversationRoutes from './routes/conversations.js'
import presenceRoutes from './routes/presence.js'
import wsRoutes from './routes/ws.js'
import metricsRoutes from './routes/metrics.js'
import demoRoutes from './routes/demo.js'
import webhookRoutes from './routes/webhooks.js'
import blockRoutes from './routes/blocks.js'

/** Where the server is in its life: a load balancer reads it from /readyz. */
export interface Lifecycle {
  /** Shutting down, still serving: /readyz says 503 so that new traffic goes elsewhere. */
  draining: boolean
  /** Closing: every new request is answered 503 shutting_down. */
  closing: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle
  }
}

export interface AppOptions {
  config: Config
}

/**
 * How long the requests in flight when the server closes get to finish (ms). Then their
 * connections are cut; a send cut off is stored or not, and its retry never duplicates it.
 */
const IN_FLIGHT_GRACE_MS = 5000

/** The whole application as a plugin. It never listens: src/server.ts does that. */
async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  fastify.setValidatorCompiler(validatorCompiler)
  fastify.addHook('onRequest', async (request, reply) => { void reply.header('x-request-id', request.id) })
  // The answers to one connection's pipelined sends come out of one commit together: written
  // while the socket is corked, they leave in one system call instead of one each.
  fastify.addHook('onSend', async (request, reply) => {
    // Once closing, every answer ends its connection: kept alive, an idle connection would
    // hold the close for the keep-alive timeout (72 s).
    if (fastify.lifecycle.closing) void reply.header('connection', 'close')
    const socket = request.raw.socket
    if (socket === null || socket.writableCorked > 0) return
    socket.cork()
    process.nextTick(uncork, socket)
  })
  fastify.decorate('lifecycle', { draining: false, closing: false })
  let cutOff: NodeJS.Timeout | undefined
  fastify.addHook('preClose', async () => {
    fastify.lifecycle.closing = true
    // A client that stopped halfway through a request must not hold the close for ever.
    cutOff = setTimeout(() => { fastify.server.closeAllConnections() }, IN_FLIGHT_GRACE_MS).unref()
  })
  fastify.addHook('onClose', async () => { clearTimeout(cutOff) })
  // Bodies are JSON; a text/plain one would be parsed as a string and refused as 400 by the schema.
  fastify.removeContentTypeParser('text/plain')
  await fastify.register(configPlugin, { config: opts.config })
  if (opts.config.corsOrigins !== undefined) {
    // Bearer tokens, no cookies: no credentials mode. Preflights are cached for 10 minutes.
    await fastify.register(cors, {
      origin: opts.config.corsOrigins,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      exposedHeaders: ['retry-after', 'x-request-id'],
      maxAge: 600
    })
  }
  await fastify.register(metricsPlugin)
  await fastify.register(websocketPlugin)
  // A request that reaches a closing server (on a kept-alive connection) gets a body with a code, and the hint to reconnect.
  // After the WebSocket server's hooks: a refused upgrade (a client reconnecting at once) must
  // still have its socket closed, or the server's close waits for it for ever.
  fastify.addHook('onRequest', async (_request, reply) => {
    if (!fastify.lifecycle.closing) return
    throw new Errors.ShuttingDown()
  })
  await fastify.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => {
      fastify.metrics.limited('auth')
      return new Errors.RateLimited(context.after)
    }
  })
  await fastify.register(openapiPlugin)
  await fastify.register(storePlugin)
  await fastify.register(busPlugin)
  await fastify.register(presencePlugin)
  await fastify.register(authPlugin)
  await fastify.register(relayPlugin)
  await fastify.register(webhooksPlugin)

  fastify.setErrorHandler((err, request, reply) => {
    const error = toPublicError(err)
    if (error.statusCode >= 500) request.log.error({ err }, 'request failed')
    const headers = (err as { headers?: Record<string, string> }).headers
    if (headers !== undefined) void reply.headers(headers)
    if (error.retryAfterMs !== undefined) void reply.header('retry-after', String(Math.ceil(error.retryAfterMs / 1000)))
    return reply.code(error.statusCode).send({ error: { code: error.code, message: error.message } })
  })
  fastify.setNotFoundHandler((request) => {
    throw new Errors.RouteNotFound(request.method, request.url.split('?')[0])
  })

  await fastify.register(healthRoutes)
  await fastify.register(userRoutes)
  await fastify.register(authRoutes)
  await fastify.register(messageRoutes)
  await fastify.register(conversationRoutes)
  await fastify.register(presenceRoutes)
  await fastify.register(wsRoutes)
  await fastify.register(blockRoutes)
  await fastify.register(webhookRoutes)
  await fastify.register(metricsRoutes)
  await fastify.register(demoRoutes)
}

const duolog = fp(app, { name: 'duolog' })
export default duolog

/** Request ids taken from `x-request-id` when they are safe to log; otherwise made here, unique across instances. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

function trustHops (count: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < count
}

/** A request as Fastify logs it, without what a client put in the URL that looks like a credential. */
function requestForLog (request: FastifyRequest): { method: string, url: string, host: string, remoteAddress: string } {
  return { method: request.method, url: redactCredentials(request.url), host: request.host, remoteAddress: request.ip }
}

function uncork (socket: Socket): void { socket.uncork() }

/**
 * One access-log line per request, when it is answered, with the request in it: Fastify's
 * own two lines (one at arrival, one at the answer) cost a fifth of a send's CPU. A
 * WebSocket upgrade is logged by the socket handler instead (opened, authenticated, closed).
 */
class OneLinePerRequest extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error !== null && error !== undefined) {
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    } else {
      reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed')
    }
  }
}

/**
 * Node's own refusals, before a request reaches Fastify (a malformed request, headers too
 * large, a request that did not arrive in full in time), with duolog's error body.
 */
function answerClientError (this: FastifyInstance, err: Error & { code?: string }, socket: Socket): void {
  // A reset: the socket is gone, nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const error = toPublicError(err)
  this.log.debug({ err, code: error.code }, 'client error')
  // A request that timed out may already be routed; its answer must not have begun.
  const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (socket.writable && response?.headersSent !== true) {
    const body = JSON.stringify({ error: { code: error.code, message: error.message } })
    socket.write(`HTTP/1.1 ${error.statusCode} ${STATUS_CODES[error.statusCode] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}

/** A Fastify instance with the app registered, not listening. `logger`: pino options, or false. */
export async function buildApp (config: Config, logger: FastifyServerOptions['logger'] = { level: config.logLevel }): Promise<FastifyInstance> {
  const fastify = Fastify({
    logger: typeof logger === 'object' ? { ...logger, serializers: { req: requestForLog } } : logger,
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    bodyLimit: config.limits.maxFrameBytes,
    logController: new OneLinePerRequest(),
    // A number of proxies means: believe that many hops from the socket (proxy-addr's rule).
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    // Graceful close: stop accepting, let in-flight requests finish; requests that still
    // arrive are answered by the app's own hook (503 shutting_down, with a code).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // A client that stalls halfway through a request gets 408 instead of holding its connection.
    requestTimeout: config.limits.requestTimeoutMs,
    http: {
      // Node wants the headers' own timeout no longer than the whole request's.
      headersTimeout: Math.min(60_000, config.limits.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(5000, config.limits.requestTimeoutMs / 2)
    },
    clientErrorHandler: answerClientError
  })
  await fastify.register(duolog, { config })
  return fastify
}
