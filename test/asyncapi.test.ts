import t from 'tap'
import { readFileSync } from 'node:fs'
import { Parser } from '@asyncapi/parser'
import { ASYNCAPI_FILE, asyncapiDocument } from '../scripts/asyncapi.js'
import { api, startServer } from './helpers.js'

t.test('the committed openapi/asyncapi.json is the generated one (run `npm run asyncapi` after changing a frame)', async (t) => {
  t.equal(readFileSync(ASYNCAPI_FILE, 'utf8'), asyncapiDocument())
})

t.test('@asyncapi/parser reads it without an error', async (t) => {
  const { document, diagnostics } = await new Parser().parse(readFileSync(ASYNCAPI_FILE, 'utf8'))
  const errors = diagnostics.filter((d) => d.severity === 0)
  t.same(errors.map((d) => `${d.path.join('.')}: ${d.message}`), [], 'no errors')
  t.ok(document, 'a document')
  const names = document?.messages().all().map((m) => m.name()) ?? []
  for (const frame of ['auth', 'send', 'sync', 'ack', 'ping', 'typing', 'read', 'watch', 'ready', 'message', 'sent', 'synced', 'presence', 'receipt', 'authenticated', 'pong', 'error']) {
    t.ok(names.includes(frame), `the ${frame} frame is described`)
  }
})

t.test('served at /asyncapi.json', async (t) => {
  const server = await startServer(t)
  const res = await api(server, 'GET', '/asyncapi.json')
  t.equal(res.status, 200)
  t.same(res.body, JSON.parse(readFileSync(ASYNCAPI_FILE, 'utf8')))
})
