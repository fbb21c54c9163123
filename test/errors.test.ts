import t from 'tap'
import { readFileSync } from 'node:fs'
import { Errors, publicCodes, toPublicError } from '../src/errors.js'

t.test('docs/errors.md lists every code of src/errors.ts, with its status, and no other', async (t) => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
  const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map(([, code, status]) => [code, Number(status)])
  const statusOf = new Map(Object.values(Errors).map((E) => { const e = new E(); return [e.code, e.statusCode] }))
  t.same(rows.map(([code]) => code).sort(), publicCodes())
  for (const [code, status] of rows) t.equal(status, statusOf.get(code as string), `${code as string} answers ${status as number}`)
})

t.test('library errors become public codes; anything else a bland 500', async (t) => {
  t.match(toPublicError(Object.assign(new Error('too big'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })), { code: 'payload_too_large', statusCode: 413 })
  t.match(toPublicError(Object.assign(new Error('bad'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 })), { code: 'unsupported_media_type', statusCode: 415 })
  t.match(toPublicError(Object.assign(new Error('body/to must be string'), { validation: [], statusCode: 400 })), { code: 'invalid_request', statusCode: 400, message: 'body/to must be string' })
  t.match(toPublicError(Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_METHOD', reason: 'Invalid method encountered' })), { code: 'invalid_request', statusCode: 400, message: 'malformed HTTP request: Invalid method encountered' })
  t.match(toPublicError(Object.assign(new Error('Parse Error'), { code: 'HPE_HEADER_OVERFLOW' })), { code: 'headers_too_large', statusCode: 431 })
  t.match(toPublicError(Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' })), { code: 'request_timeout', statusCode: 408 })
  t.same(toPublicError(new Error('secret detail')), { code: 'internal_error', message: 'internal error', statusCode: 500 }, 'no detail leaks')
  t.same(toPublicError(new Errors.UnknownUser('zed')), { code: 'not_found', message: 'user "zed" does not exist', statusCode: 404 })
})
