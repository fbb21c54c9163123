import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

// The shape of src/, checked from its import statements (type-only imports included):
// no import cycle anywhere, and domain code that knows nothing of Fastify or the plugins.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(root, 'src')

function files (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return files(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm

/** Each file of src/ (relative name) and what it imports: other src/ files, or packages. */
function importGraph (): Map<string, { local: string[], packages: string[] }> {
  const graph = new Map<string, { local: string[], packages: string[] }>()
  for (const file of files(src)) {
    const local: string[] = []
    const packages: string[] = []
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      if (spec === undefined) continue
      if (spec.startsWith('.')) local.push(relative(src, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))))
      else packages.push(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0] as string)
    }
    graph.set(relative(src, file), { local, packages })
  }
  return graph
}

/** Every cycle found by a depth-first walk, each as the path that closes it. */
function cycles (graph: Map<string, { local: string[] }>): string[][] {
  const found: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (node: string): void => {
    if (state.get(node) === 'done') return
    if (state.get(node) === 'open') {
      found.push([...path.slice(path.indexOf(node)), node])
      return
    }
    state.set(node, 'open')
    path.push(node)
    for (const next of graph.get(node)?.local ?? []) visit(next)
    path.pop()
    state.set(node, 'done')
  }
  for (const node of graph.keys()) visit(node)
  return found
}

const graph = importGraph()

t.test('the walk finds cycles (a check that cannot fail proves nothing)', async (t) => {
  const sample = new Map([['a.ts', { local: ['b.ts'] }], ['b.ts', { local: ['c.ts'] }], ['c.ts', { local: ['a.ts'] }], ['d.ts', { local: ['a.ts'] }]])
  t.same(cycles(sample), [['a.ts', 'b.ts', 'c.ts', 'a.ts']])
  t.ok(graph.size > 40, 'src/ was read')
  t.ok(graph.get('relay/services.ts')?.local.includes('relay/hub.ts'), 'imports were resolved')
})

t.test('no import cycle in src/', async (t) => {
  t.same(cycles(graph).map((cycle) => cycle.join(' -> ')), [])
})

t.test('domain code imports nothing from the plugins, the routes or Fastify', async (t) => {
  const DOMAIN = ['relay/', 'store/', 'bus/', 'auth/', 'presence/']
  const FASTIFY = /^(fastify|fastify-plugin|@fastify\/.*)$/
  const offences: string[] = []
  for (const [file, { local, packages }] of graph) {
    if (!DOMAIN.some((dir) => file.startsWith(dir))) continue
    for (const target of local) if (target.startsWith('plugins/') || target.startsWith('routes/') || target === 'app.ts') offences.push(`${file} -> ${target}`)
    for (const name of packages) if (FASTIFY.test(name)) offences.push(`${file} -> ${name}`)
  }
  t.same(offences, [])
})

t.test('the modules domain code shares with it (errors, config, log, schemas) need no Fastify either', async (t) => {
  const offences: string[] = []
  for (const [file, { packages }] of graph) {
    if (!['errors.ts', 'config.ts', 'log.ts', 'token-bucket.ts'].includes(file) && !file.startsWith('schemas/')) continue
    for (const name of packages) if (/^(fastify|fastify-plugin|@fastify\/.*)$/.test(name)) offences.push(`${file} -> ${name}`)
  }
  t.same(offences, [])
})
