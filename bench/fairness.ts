// npm run bench -- --scenario fairness [--seconds 20 --warmup 3 --backlog 50000]
// Other users' latency while one user abuses the server, as ratios to the same server's
// latency without the abuse, measured in the same run. Twenty pairs of observers each send
// 10 messages/s (send to the partner's `message` frame) and /healthz is polled every 25 ms.
// Phases: quiet; a flooding user (as fast as the server answers, over WebSocket, then HTTP);
// a heavy reader (50 sockets of one user syncing a backlog of --backlog messages in a loop).
// Run against duolog as shipped (default limits) and with the limits lifted, which is how
// duolog behaved before it had them. Server on CPU 0, observers and attacker on CPU 1.
import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { SERVER_NODE_FLAGS, SERVICE, hasTaskset, listening, observe, post, summary, type Latency } from './lib.js'

const { values } = parseArgs({
  strict: false,
  options: { seconds: { type: 'string', default: '20' }, warmup: { type: 'string', default: '3' }, backlog: { type: 'string', default: '50000' } }
})
const seconds = Number(values.seconds)
const warmup = Number(values.warmup)
const backlog = Number(values.backlog)
const PAIRS = 20
const SYNC_CONNECTIONS = 50
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))
const pin = cpus().length >= 2 && hasTaskset()
const baseEnv = {
  PORT: '0',
  DUOLOG_LOG_LEVEL: 'info',
  DUOLOG_JWT_SECRET: 'bench-secret-that-is-long-enough-0123456789',
  DUOLOG_SERVICE_CLIENTS: `${SERVICE.clientId}:${SERVICE.clientSecret}`,
  DUOLOG_AUTH_RATE_LIMIT: '1000000',
  DUOLOG_SERVICE_RATE_LIMIT: '1000000'
}
const unlimited = { DUOLOG_SEND_RATE: '1000000', DUOLOG_SEND_BURST: '1000000', DUOLOG_READ_RATE: '1000000', DUOLOG_READ_BURST: '1000000', DUOLOG_MAX_CONNECTIONS_PER_USER: '1000' }

function startServer (dataDir: string, env: Record<string, string>): ChildProcess {
  const args = [...SERVER_NODE_FLAGS, '--import', 'tsx', here('../src/server.ts')]
  return spawn(pin ? 'taskset' : process.execPath, pin ? ['-c', '0', process.execPath, ...args] : args, {
    env: { ...process.env, ...baseEnv, ...env, DUOLOG_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'inherit']
  })
}

async function stop (server: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => server.once('exit', resolve))
  server.kill('SIGINT')
  await exited
}

/** The users and the reader's backlog, written once; each run starts from a copy. */
async function prefill (dir: string): Promise<void> {
  const server = startServer(dir, unlimited)
  const url = await listening(server)
  const service = (await post(url, '/v1/auth/token', SERVICE)).accessToken as string
  const ids = ['flooder', 'victim', 'reader', 'writer', ...Array.from({ length: PAIRS * 2 }, (_, i) => `o${i}`)]
  for (const id of ids) await post(url, '/v1/users', { id }, service)
  let next = 0
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < backlog) {
      next++
      await post(url, '/v1/messages', { from: 'writer', to: 'reader', content: `backlog message ${next}, about as long as a chat line` }, service)
    }
  }))
  await stop(server)
}

interface Phase { name: string, messages: Latency, health: Latency, attacker: Record<string, number> | undefined }

async function runPhase (name: string, url: string, tokens: Map<string, string>, attack: { mode: 'flood-ws' | 'flood-http' | 'sync', user: string } | undefined): Promise<Phase> {
  let attacker: ChildProcess | undefined
  let counts: Record<string, number> | undefined
  if (attack !== undefined) {
    // nice applies to every thread the attacker starts (renice -p would only reach its main thread).
    const node = [process.execPath, '--import', 'tsx', here('./attacker.ts')]
    const argv = ['-n', '10', ...(pin ? ['taskset', '-c', '1'] : []), ...node]
    attacker = spawn('nice', argv, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, URL: url, TOKEN: tokens.get(attack.user), MODE: attack.mode, CONNECTIONS: String(SYNC_CONNECTIONS) }
    })
    attacker.on('message', (m: Record<string, number>) => { counts = m })
  }
  const observers = await observe(url, tokens, PAIRS)
  await new Promise((resolve) => setTimeout(resolve, warmup * 1000))
  observers.messages.length = 0
  observers.health.length = 0
  const atStart = counts === undefined ? undefined : { ...counts }
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const result = { name, messages: summary(observers.messages), health: summary(observers.health), attacker: undefined as Record<string, number> | undefined }
  if (counts !== undefined) {
    const start = atStart ?? {}
    result.attacker = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, k === 'connections' ? v : (v - (start[k] ?? 0)) / seconds]))
  }
  observers.stop()
  attacker?.kill('SIGKILL')
  // Let the server settle before the next phase.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  return result
}

async function mintTokens (url: string): Promise<Map<string, string>> {
  const service = (await post(url, '/v1/auth/token', SERVICE)).accessToken as string
  const tokens = new Map<string, string>()
  for (const id of ['flooder', 'reader', ...Array.from({ length: PAIRS * 2 }, (_, i) => `o${i}`)]) {
    tokens.set(id, (await post(url, `/v1/users/${id}/tokens`, undefined, service)).accessToken)
  }
  return tokens
}

const template = mkdtempSync(join(tmpdir(), 'duolog-fairness-'))
process.stdout.write(`prefilling: ${PAIRS * 2} observers, a reader with ${backlog} messages in its stream...\n`)
await prefill(template)
process.stdout.write(`${PAIRS} observer pairs at 10 msg/s each, ${seconds}s measured per phase after ${warmup}s; ${pin ? 'server on CPU 0, the rest on CPU 1' : 'no CPU pinning'}\n\n`)

const rows: string[][] = []
for (const [label, env] of [['duolog (default limits)', {}], ['duolog, limits lifted (as before them)', unlimited]] as const) {
  const dir = mkdtempSync(join(tmpdir(), 'duolog-fairness-run-'))
  cpSync(template, dir, { recursive: true })
  const server = startServer(dir, env)
  const url = await listening(server)
  const tokens = await mintTokens(url)
  const quiet = await runPhase('quiet', url, tokens, undefined)
  const phases = [
    quiet,
    await runPhase('flooding user, WebSocket', url, tokens, { mode: 'flood-ws', user: 'flooder' }),
    await runPhase('flooding user, HTTP', url, tokens, { mode: 'flood-http', user: 'flooder' }),
    await runPhase('heavy reader', url, tokens, { mode: 'sync', user: 'reader' })
  ]
  await stop(server)
  rmSync(dir, { recursive: true, force: true })
  for (const p of phases) {
    const ratio = (a: number, b: number): string => p === quiet ? '' : `${(a / b).toFixed(2)}x`
    const attacker = p.attacker === undefined ? '' : p.name.startsWith('flooding') ? `${p.attacker.stored?.toFixed(0)} stored/s, ${p.attacker.refused?.toFixed(0)} refused/s` : `${p.attacker.connections} sockets, ${p.attacker.pages?.toFixed(0)} pages/s`
    rows.push([label, p.name, p.messages.p50.toFixed(2), p.messages.p99.toFixed(2), ratio(p.messages.p50, quiet.messages.p50), ratio(p.messages.p99, quiet.messages.p99),
      p.health.p50.toFixed(2), p.health.p99.toFixed(2), ratio(p.health.p99, quiet.health.p99), attacker])
  }
}
rmSync(template, { recursive: true, force: true })
const header = ['server', 'phase', 'others p50 ms', 'p99 ms', 'p50 vs quiet', 'p99 vs quiet', '/healthz p50', 'p99', 'p99 vs quiet', 'the abuser got']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
for (const row of [header, ...rows]) process.stdout.write(row.map((c, i) => i < 2 || i === 9 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)).join('  ') + '\n')
