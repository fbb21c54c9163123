// npm run bench -- --scenario http [--seconds 30 --warmup 5 --connections 100 --pipeline 10 --users 200 --rounds 1 --baseline DIR]
// POST /v1/messages against its floor: a bare Fastify route with the same body and response
// schemas and the same logger (bench/bare-fastify.ts). The load is wrk (Debian's `wrk`), a
// separate C process pinned to CPU 1 with the server on CPU 0, so that the load generator is
// not what limits: --connections keep-alive connections with --pipeline requests in flight on
// each. duolog's requests come from --users users, each sending to its partner with its own
// token (every request is authenticated, stored before its 201 and delivered).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { DUOLOG_BENCH_ENV, SERVER_NODE_FLAGS, SERVICE, freePort, hasTaskset, post, shippedNodeFlags } from './lib.js'

const { values } = parseArgs({
  strict: false,
  options: {
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    connections: { type: 'string', default: '100' },
    pipeline: { type: 'string', default: '10' },
    users: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '1' },
    profile: { type: 'string' },
    baseline: { type: 'string' }
  }
})
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))
const pin = cpus().length >= 2 && hasTaskset()
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())
const users = Number(values.users)

try {
  execFileSync('wrk', ['-v'], { stdio: 'ignore' })
} catch (err) {
  // wrk -v exits 1 after printing its version; only a missing binary is fatal.
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    process.stderr.write('the http scenario needs wrk: apt-get install wrk\n')
    process.exit(1)
  }
}

function cpuMicros (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) * 1e6 / clockTicks
}

/**
 * Starts a server pinned to CPU 0; its log goes to /dev/null (pino still formats every line,
 * as in production; a pipe read by this process would compete with wrk for CPU 1).
 */
async function start (entry: string, env: Record<string, string>, flags: readonly string[]): Promise<{ child: ChildProcess, url: string }> {
  const port = await freePort()
  const profile = typeof values.profile === 'string' ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : []
  const args = [...flags, ...profile, '--import', 'tsx', entry]
  const child = spawn(pin ? 'taskset' : process.execPath, pin ? ['-c', '0', process.execPath, ...args] : args, {
    env: { ...process.env, PORT: String(port), DUOLOG_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const url = `http://127.0.0.1:${port}`
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode}`)
    try { await fetch(url + '/'); return { child, url } } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** A wrk script: each connection sends --pipeline requests at a time, as the next user in turn. */
function script (tokens: readonly string[]): string {
  const lua = (s: string): string => JSON.stringify(s)
  return `local tokens = { ${tokens.map(lua).join(', ')} }
local n = 0
local depth = ${Number(values.pipeline)}
request = function ()
  n = n + 1
  local user = (n % #tokens)
  local partner = user % 2 == 0 and user + 1 or user - 1
  local body = '{"to":"u' .. partner .. '","content":"hello from the http benchmark"}'
  local one = wrk.format('POST', '/v1/messages', { ['content-type'] = 'application/json', ['authorization'] = 'Bearer ' .. tokens[user + 1] }, body)
  return string.rep(one, depth)
end
`
}

interface Result { name: string, perSecond: number, p50: string, p99: string, cpuPerRequest: number, failed: number }

/** Runs wrk pinned to CPU 1 for `seconds`; the server's CPU is read at both ends. */
function wrk (url: string, scriptFile: string, seconds: number, pid: number): Omit<Result, 'name'> {
  // A 10 s timeout: with 1,000 requests in flight a few wait over wrk's default 2 s on any server.
  const args = ['-t1', `-c${String(values.connections)}`, `-d${seconds}s`, '--timeout', '10s', '--latency', '-s', scriptFile, url + '/v1/messages']
  const before = cpuMicros(pid)
  const out = execFileSync(pin ? 'taskset' : 'wrk', pin ? ['-c', '1', 'wrk', ...args] : args).toString()
  const cpu = cpuMicros(pid) - before
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN)
  const failed = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + Number(/Socket errors: .*timeout (\d+)/.exec(out)?.[1] ?? 0)
  if (failed > 0) process.stderr.write(`wrk against ${url}:\n${out}\n`)
  return {
    perSecond: Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)?.[1] ?? NaN),
    p50: /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '-',
    p99: /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '-',
    cpuPerRequest: cpu / requests,
    failed
  }
}

async function measure (name: string, entry: string, env: Record<string, string>, tokens: (url: string) => Promise<string[]>, flags = SERVER_NODE_FLAGS): Promise<Result> {
  const work = mkdtempSync(join(tmpdir(), 'duolog-bench-http-'))
  const { child, url } = await start(entry, { DUOLOG_DATA_DIR: work, ...env }, flags)
  try {
    const scriptFile = join(work, 'send.lua')
    writeFileSync(scriptFile, script(await tokens(url)))
    wrk(url, scriptFile, Number(values.warmup), child.pid as number)
    return { name, ...wrk(url, scriptFile, Number(values.seconds), child.pid as number) }
  } finally {
    child.kill(typeof values.profile === 'string' ? 'SIGTERM' : 'SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    rmSync(work, { recursive: true, force: true })
  }
}

async function userTokens (url: string): Promise<string[]> {
  const service = (await post(url, '/v1/auth/token', SERVICE)).accessToken as string
  const tokens: string[] = []
  for (let i = 0; i < users; i++) {
    await post(url, '/v1/users', { id: `u${i}` }, service)
    tokens.push((await post(url, `/v1/users/u${i}/tokens`, undefined, service)).accessToken)
  }
  return tokens
}

const duologEnv = DUOLOG_BENCH_ENV

process.stdout.write(`POST /v1/messages, wrk with ${String(values.connections)} connections x ${String(values.pipeline)} pipelined, ${String(values.seconds)}s measured after ${String(values.warmup)}s; ` +
  `${pin ? 'server on CPU 0, wrk on CPU 1' : 'no CPU pinning'}\n\n`)
const results: Result[] = []
const ratios: number[] = []
const quietRatios: number[] = []
const versusBaseline: number[] = []
for (let round = 1; round <= Number(values.rounds); round++) {
  const suffix = Number(values.rounds) > 1 ? `, round ${round}` : ''
  const floor = await measure(`bare Fastify route, same schemas and logger${suffix}`, here('./bare-fastify.ts'), {}, async () => Array.from({ length: users }, (_, i) => `token-${i}`))
  const quiet = await measure(`bare Fastify route, no logger${suffix}`, here('./bare-fastify.ts'), { BARE_LOGGER: '0' }, async () => Array.from({ length: users }, (_, i) => `token-${i}`))
  const duolog = await measure(`duolog (JWT, SQLite, stored before 201)${suffix}`, here('../src/server.ts'), duologEnv, userTokens)
  results.push(floor, quiet, duolog)
  if (typeof values.baseline === 'string') {
    // As that version ships: with its own `npm start`'s Node.js flags.
    const baseline = await measure(`duolog baseline (${values.baseline})${suffix}`, join(values.baseline, 'src/server.ts'), duologEnv, userTokens, shippedNodeFlags(values.baseline))
    results.push(baseline)
    versusBaseline.push(duolog.perSecond / baseline.perSecond)
  }
  ratios.push(duolog.perSecond / floor.perSecond)
  quietRatios.push(duolog.perSecond / quiet.perSecond)
}
const rows = results.map((r) => [r.name, r.perSecond.toFixed(0), r.p50, r.p99, r.cpuPerRequest.toFixed(1), String(r.failed)])
const header = ['server', 'requests/s', 'p50', 'p99', 'server CPU µs/request', 'failed']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
for (const row of [header, ...rows]) process.stdout.write(row.map((c, i) => i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)).join('  ') + '\n')
process.stdout.write(`\nduolog / floor (same logger) requests per second: ${ratios.map((r) => r.toFixed(2) + 'x').join(', ')} (target at least 0.5x)\n` +
  `duolog / a route without a logger: ${quietRatios.map((r) => r.toFixed(2) + 'x').join(', ')}\n` +
  (versusBaseline.length > 0 ? `duolog / baseline requests per second: ${versusBaseline.map((r) => r.toFixed(2) + 'x').join(', ')}\n` : ''))
process.exit(0)
