import t from 'tap'
import { readFileSync } from 'node:fs'
import { OPENAPI_FILE, openapiDocument } from '../scripts/openapi.js'
import { api, startServer } from './helpers.js'

t.test('the committed openapi/openapi.json matches the routes (run `npm run openapi` after changing one)', async (t) => {
  const generated = await openapiDocument()
  t.equal(readFileSync(OPENAPI_FILE, 'utf8'), generated)
  const doc = JSON.parse(generated)
  t.equal(doc.openapi, '3.1.0')
  const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
  for (const route of [
    'POST /v1/users', 'POST /v1/users/{id}/tokens', 'POST /v1/auth/login', 'POST /v1/auth/token', 'POST /v1/messages',
    'GET /v1/conversations/{peer}/messages', 'GET /v1/sync', 'GET /v1/presence/{userId}', 'GET /v1/presence', 'GET /v1/ws', 'GET /healthz', 'GET /readyz'
  ]) t.ok(routes.includes(route), route)
})

t.test('served at /openapi.json, with Swagger UI at /docs', async (t) => {
  const server = await startServer(t)
  const served = await api(server, 'GET', '/openapi.json')
  t.equal(served.status, 200)
  t.equal(served.body.info.title, 'duolog')
  const ui = await fetch(server.url + '/docs/')
  t.equal(ui.status, 200)
  t.match(await ui.text(), /swagger/i)
})
