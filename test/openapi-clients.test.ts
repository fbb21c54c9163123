import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The OpenAPI document as a client generator sees it: Redocly's recommended lint, and types
// generated with openapi-typescript that a small openapi-fetch program type-checks against.

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = (name: string): string => join(root, 'node_modules', '.bin', name)

t.test('redocly lint (recommended rules): no error, no warning', async (t) => {
  const run = spawnSync(bin('redocly'), ['lint', 'openapi/openapi.json', '--format', 'stylish'], {
    cwd: root,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    encoding: 'utf8'
  })
  // It reports on stderr; exit 1 on an error.
  const out = run.stdout + run.stderr
  t.equal(run.status, 0, out)
  t.notMatch(out, /\b\d+ (errors?|warnings?)\b/, 'nothing reported')
  t.match(out, /valid/, 'the linter ran')
})

t.test('openapi-typescript types, used by an openapi-fetch program, type-check', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duolog-openapi-client-'))
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  execFileSync(bin('openapi-typescript'), [join(root, 'openapi/openapi.json'), '-o', join(dir, 'duolog.d.ts')], { stdio: 'pipe' })
  writeFileSync(join(dir, 'program.ts'), `
import createClient from 'openapi-fetch'
import type { paths, components } from './duolog.js'

const client = createClient<paths>({ baseUrl: 'http://localhost:3000' })
export async function demo (token: string): Promise<void> {
  const login = await client.POST('/v1/auth/login', { body: { id: 'alice', password: 'a password' } })
  if (login.data !== undefined) { const access: string = login.data.accessToken; void access }
  const sent = await client.POST('/v1/messages', { headers: { authorization: \`Bearer \${token}\` }, body: { to: 'bob', content: 'hi', clientMsgId: 'c1' } })
  if (sent.data !== undefined) { const seq: number = sent.data.seq; void seq }
  if (sent.error !== undefined) { const code: components['schemas']['Error']['error']['code'] = sent.error.error.code; void code }
  const page = await client.GET('/v1/conversations/{peer}/messages', { params: { path: { peer: 'bob' }, query: { limit: 20 } }, headers: { authorization: \`Bearer \${token}\` } })
  const messages: Array<components['schemas']['Message']> = page.data?.messages ?? []
  void messages
  // @ts-expect-error content is required
  await client.POST('/v1/messages', { body: { to: 'bob' } })
  // @ts-expect-error not a code the server has
  const wrong: components['schemas']['Error']['error']['code'] = 'no_such_code'
  void wrong
}
`)
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, lib: ['ES2022', 'DOM'] }, files: ['program.ts'] }))
  try {
    execFileSync(bin('tsc'), ['-p', join(dir, 'tsconfig.json')], { stdio: 'pipe', encoding: 'utf8' })
    t.pass('the program type-checks against the generated types')
  } catch (err) {
    t.fail(String((err as { stdout?: string }).stdout))
  }
})
