// Writes openapi/asyncapi.json, the WebSocket protocol as AsyncAPI 3.0, from the frame
// schemas and the close codes the server uses (test/asyncapi.test.ts fails while it is stale).
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { TSchema } from '@sinclair/typebox'
import * as frames from '../src/schemas/frames.js'
import { Disconnect } from '../src/relay/disconnect.js'

export const ASYNCAPI_FILE = fileURLToPath(new URL('../openapi/asyncapi.json', import.meta.url))

const clientFrames: Record<string, [TSchema, string]> = {
  auth: [frames.AuthFrameSchema, 'Authenticates a connection opened without a token (the first frame, within DUOLOG_WS_AUTH_TIMEOUT_MS), or extends an open one with a fresh token of the same user.'],
  send: [frames.SendFrameSchema, 'Sends a message; answered by `sent` once stored (or `error` with `ref`).'],
  sync: [frames.SyncFrameSchema, 'Replays the stream after a seq, a page at a time; answered by `message` frames, then `synced`.'],
  ack: [frames.AckFrameSchema, 'This user\'s devices have the stream up to this seq (delivered receipts to the senders).'],
  ping: [frames.PingFrameSchema, 'Answered by `pong`.'],
  typing: [frames.TypingFrameSchema, 'Tells `to` that this user started or stopped typing (not stored).'],
  read: [frames.ReadFrameSchema, 'Moves this user\'s read marker in the conversation with `peer` to message id `upTo`.'],
  watch: [frames.WatchFrameSchema, '`watch` or `unwatch` the presence of up to 100 users.'],
  edit: [frames.EditFrameSchema, 'Changes the content of a message this user sent; every device of both users gets `edited` (or this one an `error` whose `ref` is the message id).'],
  delete: [frames.DeleteFrameSchema, 'Deletes a message this user sent, for both users; every device of both gets `deleted`.']
}

const serverFrames: Record<string, TSchema> = {
  ready: frames.ReadyFrameSchema,
  message: frames.MessageFrameSchema,
  edited: frames.EditedFrameSchema,
  deleted: frames.DeletedFrameSchema,
  sent: frames.SentFrameSchema,
  synced: frames.SyncedFrameSchema,
  typingEvent: frames.TypingEventFrameSchema,
  presence: frames.PresenceFrameSchema,
  receipt: frames.ReceiptFrameSchema,
  authenticated: frames.AuthenticatedFrameSchema,
  pong: frames.PongFrameSchema,
  error: frames.ErrorFrameSchema
}

/** A schema as plain JSON (TypeBox's symbols dropped). */
const plain = (schema: TSchema): unknown => JSON.parse(JSON.stringify(schema))

export function asyncapiDocument (): string {
  const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
  const closeCodes = Object.values(Disconnect).map((d) => ({ code: d.code, reason: d.reason, retry: d.code < 4500 }))
  const messages: Record<string, unknown> = {}
  for (const [name, [schema, summary]] of Object.entries(clientFrames)) messages[name] = { name, title: `${name} (client to server)`, summary, contentType: 'application/json', payload: plain(schema) }
  for (const [name, schema] of Object.entries(serverFrames)) {
    const s = schema as TSchema & { description?: string }
    messages[name] = { name, title: `${String(s.title ?? name)} (server to client)`, summary: s.description ?? name, contentType: 'application/json', payload: plain(schema) }
  }
  const ref = (name: string): { $ref: string } => ({ $ref: `#/channels/relay/messages/${name}` })
  const document = {
    asyncapi: '3.0.0',
    info: {
      title: 'duolog WebSocket relay',
      version,
      description: 'One WebSocket per device at `/v1/ws`. Frames are JSON text, one object per frame, with a `type`. ' +
        'Authenticate with `Authorization: Bearer <access token>` on the upgrade (checked before it: 401 if bad), or upgrade without it and send an `auth` frame first ' +
        '(browsers). Tokens in the URL are refused. `?after=<seq>` (or `after` in the auth frame) resumes: the stream after that seq is replayed before live frames. ' +
        'The server closes with a code and a reason; 4000-4499: reconnect with backoff and resume; 4500-4999: do not retry as is. The codes are in `x-close-codes` ' +
        'and docs/protocol.md.',
      license: { name: 'MIT' }
    },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: 'localhost:3000',
        protocol: 'ws',
        pathname: '/v1/ws',
        description: 'A duolog started with `npm start`; behind TLS, use `wss`.',
        security: [{ $ref: '#/components/securitySchemes/bearer' }]
      }
    },
    channels: {
      relay: {
        address: '/v1/ws',
        title: 'A device\'s connection',
        messages: Object.fromEntries(Object.keys(messages).map((name) => [name, { $ref: `#/components/messages/${name}` }])),
        bindings: {
          ws: {
            method: 'GET',
            query: { type: 'object', properties: { after: { type: 'integer', minimum: 0, description: 'Resume: replay the stream after this seq before going live.' } } },
            headers: { type: 'object', properties: { Authorization: { type: 'string', description: '`Bearer <access token>`; without it, the first frame must be `auth`.' } } }
          }
        }
      }
    },
    operations: {
      ...Object.fromEntries(Object.keys(clientFrames).map((name) => [`client_${name}`, { action: 'send', channel: { $ref: '#/channels/relay' }, summary: clientFrames[name]?.[1], messages: [ref(name)] }])),
      ...Object.fromEntries(Object.keys(serverFrames).map((name) => [`server_${name}`, { action: 'receive', channel: { $ref: '#/channels/relay' }, messages: [ref(name)] }]))
    },
    components: {
      messages,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A user access token, on the upgrade or in the first `auth` frame.' }
      }
    },
    'x-close-codes': closeCodes
  }
  return JSON.stringify(document, null, 2) + '\n'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(ASYNCAPI_FILE, asyncapiDocument())
  process.stdout.write(`wrote ${ASYNCAPI_FILE}\n`)
}
