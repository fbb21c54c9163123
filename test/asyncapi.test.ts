import t from 'tap'
import { readFileSync } from 'node:fs'
import { Parser } from '@asyncapi/parser'
import { ASYNCAPI_FILE, asyncapiDocument } from '../scripts/asyncapi.js'
import { api, startServer } from './helpers.js'
import * as frames from '../src/schemas/frames.js'

/** The `type` values a frame schema allows. */
function typesOf (schema: Record<string, any> | undefined): string[] {
  const type = schema?.properties?.type
  if (type === undefined) return []
  if (typeof type.const === 'string') return [type.const]
  return (type.anyOf ?? []).map((member: { const: string }) => member.const)
}

t.test('the committed openapi/asyncapi.json is the generated one (run `npm run asyncapi` after changing a frame)', async (t) => {
  t.equal(readFileSync(ASYNCAPI_FILE, 'utf8'), asyncapiDocument())
})

t.test('@asyncapi/parser reads it without an error', async (t) => {
  const { document, diagnostics } = await new Parser().parse(readFileSync(ASYNCAPI_FILE, 'utf8'))
  const errors = diagnostics.filter((d) => d.severity === 0)
  t.same(errors.map((d) => `${d.path.join('.')}: ${d.message}`), [], 'no errors')
  t.ok(document, 'a document')
  // Every frame type of src/schemas/frames.ts, either way, is the payload of a message.
  const described = new Set((document?.messages().all() ?? []).flatMap((m) => typesOf(m.payload()?.json() as Record<string, any>)))
  const declared = Object.entries(frames).filter(([name]) => name.endsWith('FrameSchema')).flatMap(([, schema]) => typesOf(schema as Record<string, any>))
  t.ok(declared.length >= 20, 'the frames were found')
  for (const type of new Set(declared)) t.ok(described.has(type), `the ${type} frame is described`)
})

t.test('served at /asyncapi.json', async (t) => {
  const server = await startServer(t)
  const res = await api(server, 'GET', '/asyncapi.json')
  t.equal(res.status, 200)
  t.same(res.body, JSON.parse(readFileSync(ASYNCAPI_FILE, 'utf8')))
})
