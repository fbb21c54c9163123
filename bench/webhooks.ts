// npm run bench -- --scenario webhooks [--seconds 20 --warmup 3 --pairs 50 --events message.created --profile DIR]
// Message latency with webhooks on and a receiver that answers at once, hangs (every attempt
// times out after 5 s) or answers 500, as ratios to the same server's latency with the
// receiver answering, and to a server without webhooks, all in one run. Observers: --pairs
// pairs of users at 10 messages/s each; every message is a `message.created` (and, unacked
// for 10 s, a `message.undelivered`: the observers do not ack). Server on CPU 0.
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type ServerResponse } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { SERVER_NODE_FLAGS, SERVICE, freePort, hasTaskset, observe, post, summary, type Latency } from './lib.js'

const { values } = parseArgs({
  strict: false,
  options: { seconds: { type: 'string', default: '20' }, warmup: { type: 'string', default: '3' }, pairs: { type: 'string', default: '50' }, profile: { type: 'string' }, events: { type: 'string' } }
})
const seconds = Number(values.seconds)
const warmup = Number(values.warmup)
const pairs = Number(values.pairs)
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))
const pin = cpus().length >= 2 && hasTaskset()
const SECRET = 'whsec_' + Buffer.from('the benchmark\'s webhook secret').toString('base64')

type Mode = 'ok' | 'hang' | 'fail'
let mode: Mode = 'ok'
const received = { ok: 0, hung: 0, failed: 0 }
const hanging: ServerResponse[] = []
const receiver = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    if (mode === 'hang') { received.hung++; hanging.push(res); return }
    if (mode === 'fail') { received.failed++; res.statusCode = 500; res.end(); return }
    received.ok++
    res.statusCode = 204
    res.end()
  })
})
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks`

/**
 * Starts duolog on a free port and resolves with its URL once /healthz answers. Its log goes
 * nowhere: a log read through a pipe by this busy process would block the server's writes.
 */
async function startServer (dataDir: string, env: Record<string, string>): Promise<{ child: ChildProcess, url: string }> {
  const port = await freePort()
  const child = spawnServer(dataDir, { ...env, PORT: String(port), DUOLOG_LOG_LEVEL: 'warn' })
  const url = `http://127.0.0.1:${port}`
  for (;;) {
    if (child.exitCode !== null) throw new Error(`duolog exited with ${child.exitCode}`)
    try { if ((await fetch(url + '/healthz')).ok) return { child, url } } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function spawnServer (dataDir: string, env: Record<string, string>): ChildProcess {
  // --profile DIR: a V8 CPU profile of each server, written when it closes.
  const profile = typeof values.profile === 'string' ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : []
  const args = [...SERVER_NODE_FLAGS, ...profile, '--import', 'tsx', here('../src/server.ts')]
  return spawn(pin ? 'taskset' : process.execPath, pin ? ['-c', '0', process.execPath, ...args] : args, {
    env: {
      ...process.env,
      DUOLOG_JWT_SECRET: 'bench-secret-that-is-long-enough-0123456789',
      DUOLOG_SERVICE_CLIENTS: `${SERVICE.clientId}:${SERVICE.clientSecret}`,
      DUOLOG_AUTH_RATE_LIMIT: '1000000',
      DUOLOG_SERVICE_RATE_LIMIT: '1000000',
      DUOLOG_DATA_DIR: dataDir,
      ...env
    },
    stdio: ['ignore', 'ignore', 'inherit']
  })
}

async function tokensFor (url: string): Promise<Map<string, string>> {
  const service = (await post(url, '/v1/auth/token', SERVICE)).accessToken as string
  const tokens = new Map<string, string>()
  for (let i = 0; i < pairs * 2; i++) {
    await post(url, '/v1/users', { id: `o${i}` }, service)
    tokens.set(`o${i}`, (await post(url, `/v1/users/o${i}/tokens`, undefined, service)).accessToken)
  }
  return tokens
}

async function measure (url: string, tokens: Map<string, string>): Promise<Latency> {
  const observers = await observe(url, tokens, pairs)
  await new Promise((resolve) => setTimeout(resolve, warmup * 1000))
  observers.messages.length = 0
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const latency = summary(observers.messages)
  observers.stop()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  return latency
}

process.stdout.write(`${pairs} observer pairs at 10 msg/s each, ${seconds}s measured per phase after ${warmup}s; ${pin ? 'server on CPU 0' : 'no CPU pinning'}\n\n`)
const rows: Array<[string, Latency, string]> = []

const plainDir = mkdtempSync(join(tmpdir(), 'duolog-webhooks-'))
const { child: plain, url: plainUrl } = await startServer(plainDir, {})
rows.push(['no webhooks', await measure(plainUrl, await tokensFor(plainUrl)), ''])
plain.kill('SIGINT')

const hooksDir = mkdtempSync(join(tmpdir(), 'duolog-webhooks-'))
const { child: hooked, url: hookedUrl } = await startServer(hooksDir, { DUOLOG_WEBHOOK_URL: hookUrl, DUOLOG_WEBHOOK_SECRET: SECRET, ...(typeof values.events === 'string' ? { DUOLOG_WEBHOOK_EVENTS: values.events } : {}) })
const tokens = await tokensFor(hookedUrl)
for (const [label, phase] of [['webhooks, receiver answers 204', 'ok'], ['webhooks, receiver hangs', 'hang'], ['webhooks, receiver answers 500', 'fail']] as const) {
  mode = phase
  const before = { ...received }
  const latency = await measure(hookedUrl, tokens)
  const attempts = `${((received.ok - before.ok) / seconds).toFixed(0)} delivered/s, ${((received.hung - before.hung) / seconds).toFixed(1)} hung/s, ${((received.failed - before.failed) / seconds).toFixed(1)} failed/s`
  rows.push([label, latency, attempts])
  for (const res of hanging.splice(0)) res.destroy()
}
hooked.kill('SIGINT')
receiver.close()
rmSync(plainDir, { recursive: true, force: true })
rmSync(hooksDir, { recursive: true, force: true })

const [base, ok] = [rows[0]?.[1] as Latency, rows[1]?.[1] as Latency]
const header = ['server', 'p50 ms', 'p99 ms', 'p50 vs none', 'p99 vs none', 'p50 vs 204', 'p99 vs 204', 'messages', 'the receiver got']
const table = rows.map(([label, l, attempts]) => [label, l.p50.toFixed(2), l.p99.toFixed(2), `${(l.p50 / base.p50).toFixed(2)}x`, `${(l.p99 / base.p99).toFixed(2)}x`,
  `${(l.p50 / ok.p50).toFixed(2)}x`, `${(l.p99 / ok.p99).toFixed(2)}x`, String(l.count), attempts])
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => (r[i] as string).length)))
for (const row of [header, ...table]) process.stdout.write(row.map((c, i) => i === 0 || i === 8 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)).join('  ') + '\n')
process.exit(0)
