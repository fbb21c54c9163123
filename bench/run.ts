// npm run bench [-- --pairs 1000 --seconds 30 --warmup 3 --rounds 1 --only bare|duolog --profile DIR --baseline DIR]
// npm run bench -- --scenario cluster [--rounds N ...] [--rate 2000]
// npm run bench -- --scenario fairness [--seconds 20]: other users' latency under abuse (bench/fairness.ts)
// npm run bench -- --scenario webhooks [--seconds 20]: message latency with a receiver that hangs or fails (bench/webhooks.ts)
// npm run bench -- --scenario http [--seconds 30]: POST /v1/messages against a bare Fastify route, load from wrk (bench/http.ts)
// --idle S: every connection idles S seconds before the sends start (default 2); the servers'
// resident memory per connection is read then (the KB/idle conn column).
// --prefill N: every duolog on SQLite starts on a copy of one database holding N messages
// between 10,000 users (or as many as connect), made first by bench/prefill.ts: index trees
// of a service that has run a while, not an empty file.
// --in-flight N: without --rate, the messages each client keeps in flight (default 1).
// --rate N: a fixed offered load of N messages/s over all clients (latency below saturation).
// --baseline DIR: also runs the duolog in DIR (e.g. a `git worktree` of an older commit,
// with node_modules linked) in every round, to compare two versions in the same run.
// Starts each server pinned to CPU 0 and the load generator pinned to CPU 1, and prints, for
// the bare `ws` relay (echo), the ack-ing relay (forward + a small ack: the floor) and duolog
// (every message stored before `sent`), delivered messages/s, p50/p99 latency, server CPU
// microseconds per delivered message, and each server's event-loop delay (max, p99) over the window
// (bench/loop-delay.ts, the same in every server). Each round first reads the event-loop delay
// of a Node.js process that does nothing, on the same CPU for as long: what the machine alone
// holds a loop for, below which no server's max can go.
// --scenario cluster: one duolog on SQLite, one on PostgreSQL, and two on PostgreSQL + Redis
// with each pair's two clients on different instances (every message crosses Redis); the
// CPU of PostgreSQL's and Redis's processes is counted too (BENCH_DATABASE_URL, BENCH_REDIS_URL).
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { cpSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { DUOLOG_BENCH_ENV, SERVER_NODE_FLAGS, SERVICE, hasTaskset, listening, post, shippedNodeFlags } from './lib.js'

if (process.argv.includes('fairness')) {
  await import('./fairness.js')
  process.exit(0)
}
if (process.argv.includes('http')) {
  await import('./http.js')
  process.exit(0)
}
if (process.argv.includes('webhooks')) {
  await import('./webhooks.js')
  process.exit(0)
}

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '1' },
    baseline: { type: 'string' },
    scenario: { type: 'string', default: 'relay' },
    rate: { type: 'string' },
    only: { type: 'string' },
    profile: { type: 'string' },
    idle: { type: 'string', default: '2' },
    'in-flight': { type: 'string', default: '1' },
    prefill: { type: 'string' }
  }
})
const pairs = Number(values.pairs)
// --rate N: N messages per second offered in all (each client paced), instead of as fast as acknowledged.
const interval = values.rate === undefined ? 0 : pairs * 2 * 1000 / Number(values.rate)
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))
const pin = cpus().length >= 2 && hasTaskset()
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())

/** Spawns `node --import tsx <entry>` pinned to a CPU when possible, its event-loop delay measured (bench/loop-delay.ts). */
function spawnPinned (cpu: number, entry: string, env: Record<string, string>, flags: readonly string[] = SERVER_NODE_FLAGS): ChildProcess {
  // --profile DIR: a V8 CPU profile of each server, written when it closes.
  const profile = values.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values.profile]
  const args = [...flags, ...profile, '--import', 'tsx', '--import', here('./loop-delay.ts'), entry]
  const command = pin ? 'taskset' : process.execPath
  const argv = pin ? ['-c', String(cpu), process.execPath, ...args] : args
  return spawn(command, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
}

/** user + system CPU time of a process, in microseconds. */
function cpuMicros (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) * 1e6 / clockTicks
}

/** Resident memory of processes, in KB. */
function rssKb (pids: readonly number[]): number {
  let total = 0
  for (const pid of pids) total += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN)
  return total
}

/** Creates the users through a service client and returns one user token each. */
async function makeTokens (url: string, count: number): Promise<string[]> {
  const service = (await post(url, '/v1/auth/token', SERVICE)).accessToken as string
  const tokens: string[] = new Array(count)
  for (let i = 0; i < count; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, count - i) }, async (_, k) => {
      const id = `u${i + k}`
      // A prefilled database has the users already.
      if (values.prefill === undefined) await post(url, '/v1/users', { id }, service)
      tokens[i + k] = (await post(url, `/v1/users/${id}/tokens`, undefined, service)).accessToken
    }))
  }
  return tokens
}

interface Result {
  name: string
  delivered: number
  perSecond: number
  p50: number
  p99: number
  /** duolog's (or the bare relay's) processes */
  cpuPerMessage: number
  cpuShare: number
  /** PostgreSQL's and Redis's processes (cluster scenario) */
  servicesCpuPerMessage: number
  /** The server's event-loop delay over the measured window (monitorEventLoopDelay at 1 ms, in ms): max and p99 (of the first instance). */
  loopMax: number
  loopP99: number
  /** The servers' resident memory per connection while every connection is idle (--idle), in KB. */
  idleKb: number
  /** The load generator's own GC pauses in the window: the longest (ms), and their share of the window. */
  loadGcMax: number
  loadGcShare: number
}

/**
 * A server's event-loop delay since the last reading, in ms: bench/loop-delay.ts (preloaded
 * into every server) writes its readings to loopFile on SIGWINCH and starts over.
 */
async function eventLoopDelay (server: ChildProcess, loopFile: string): Promise<{ max: number, p99: number }> {
  rmSync(loopFile, { force: true })
  if (!server.kill('SIGWINCH')) return { max: NaN, p99: NaN }
  for (let waited = 0; waited < 5000; waited += 20) {
    try {
      return JSON.parse(readFileSync(loopFile, 'utf8')) as { max: number, p99: number }
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  return { max: NaN, p99: NaN }
}

interface Target {
  name: string
  mode: 'bare' | 'duolog'
  entry: string
  env: Record<string, string>
  /** Server processes; the load generator spreads each pair's two clients over them. */
  instances?: number
  /** A fresh PostgreSQL schema (and Redis prefix) for the run. */
  postgres?: boolean
  /** Node.js flags (default: those duolog ships with). */
  flags?: readonly string[]
}

const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Every process of the machine's PostgreSQL and Redis servers (their CPU counts as the cluster's). */
function servicePids (): number[] {
  const pids: number[] = []
  for (const name of ['postgres', 'redis-server']) {
    try {
      pids.push(...execFileSync('pgrep', ['-x', name]).toString().trim().split('\n').map(Number))
    } catch {}
  }
  return pids
}

/** CPU time by pid; a process that ended meanwhile is left out. */
function cpuByPid (pids: readonly number[]): Map<number, number> {
  const cpu = new Map<number, number>()
  for (const pid of pids) {
    try { cpu.set(pid, cpuMicros(pid)) } catch {}
  }
  return cpu
}

/** CPU spent since `before` by the processes alive now (one born since counts from birth). */
function cpuSince (before: ReadonlyMap<number, number>, pids: readonly number[]): number {
  let total = 0
  for (const [pid, now] of cpuByPid(pids)) total += now - (before.get(pid) ?? 0)
  return total
}

async function dropSchema (schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await client.end()
}

/**
 * The event-loop delay of a process that does nothing (bench/idle-process.ts) on the servers'
 * CPU, over a window as long as theirs: how long the machine alone holds a loop.
 */
async function idleLoopDelay (): Promise<{ max: number, p99: number }> {
  const work = mkdtempSync(join(tmpdir(), 'duolog-bench-'))
  const loopFile = join(work, 'loop-delay.json')
  const idle = spawnPinned(0, here('./idle-process.ts'), { BENCH_LOOP_FILE: loopFile })
  try {
    await new Promise((resolve) => setTimeout(resolve, Number(values.warmup) * 1000))
    await eventLoopDelay(idle, loopFile)
    await new Promise((resolve) => setTimeout(resolve, Number(values.seconds) * 1000))
    return await eventLoopDelay(idle, loopFile)
  } finally {
    idle.kill('SIGKILL')
    rmSync(work, { recursive: true, force: true })
  }
}

async function measure (target: Target): Promise<Result> {
  const { name, mode, entry } = target
  const work = mkdtempSync(join(tmpdir(), 'duolog-bench-'))
  const schema = `duolog_bench_${randomBytes(4).toString('hex')}`
  // The first instance's event-loop delay is read from here (bench/loop-delay.ts).
  const loopFile = join(work, 'loop-delay.json')
  const env = { PORT: '0', DUOLOG_DATA_DIR: work, DUOLOG_LOG_LEVEL: 'info', BENCH_LOOP_FILE: loopFile, ...target.env }
  if (prefilled !== undefined && target.mode === 'duolog' && target.postgres !== true) cpSync(prefilled, work, { recursive: true })
  if (target.postgres === true) Object.assign(env, { DUOLOG_DATABASE_URL: databaseUrl, DUOLOG_DATABASE_SCHEMA: schema, DUOLOG_REDIS_PREFIX: `${schema}:` })
  const servers: ChildProcess[] = []
  try {
    const urls: string[] = []
    // One after the other: the first applies the migrations.
    for (let i = 0; i < (target.instances ?? 1); i++) {
      const server = spawnPinned(0, entry, env, target.flags)
      servers.push(server)
      urls.push(await listening(server))
    }
    const tokensFile = join(work, 'tokens.json')
    if (mode === 'duolog') writeFileSync(tokensFile, JSON.stringify(await makeTokens(urls[0] as string, pairs * 2)))
    const pids = servers.map((server) => server.pid as number)
    // Memory before the clients connect; the difference once they idle is theirs.
    const rssBefore = rssKb(pids)
    let idleKb = NaN
    const wsUrls = urls.map((url) => url.replace('http:', 'ws:') + (mode === 'duolog' ? '/v1/ws' : '/'))
    const load = fork(here('./load.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, MODE: mode, WS_URLS: wsUrls.join(','), PAIRS: String(pairs), TOKENS_FILE: tokensFile, WARMUP_MS: String(Number(values.warmup) * 1000), DURATION_MS: String(Number(values.seconds) * 1000), INTERVAL_MS: String(interval), IDLE_MS: String(Number(values.idle) * 1000), IN_FLIGHT: String(values['in-flight']) }
    })
    if (pin && load.pid !== undefined) execFileSync('taskset', ['-pc', '1', String(load.pid)], { stdio: 'ignore' })
    // PostgreSQL starts a backend per new pool connection: the list is taken at both ends.
    const services = (): number[] => target.postgres === true ? servicePids() : []
    let atStart = new Map<number, number>()
    let servicesAtStart = new Map<number, number>()
    let cpu = 0
    let servicesCpu = 0
    let wall = 0
    let loop: Promise<{ max: number, p99: number }> = Promise.resolve({ max: NaN, p99: NaN })
    const scrape = (): Promise<{ max: number, p99: number }> => eventLoopDelay(servers[0] as ChildProcess, loopFile)
    const result = await new Promise<{ delivered: number, seconds: number, p50: number, p99: number, gcMax: number, gcShare: number }>((resolve, reject) => {
      load.on('message', (msg: any) => {
        if (msg.phase === 'idle') idleKb = (rssKb(pids) - rssBefore) / (pairs * 2)
        if (msg.phase === 'start') { atStart = cpuByPid(pids); servicesAtStart = cpuByPid(services()); wall = -performance.now(); void scrape() }
        if (msg.phase === 'end') { cpu = cpuSince(atStart, pids); servicesCpu = cpuSince(servicesAtStart, services()); wall += performance.now(); loop = scrape() }
        if (msg.phase === 'result') resolve(msg)
      })
      load.once('exit', (code) => { if (code !== 0) reject(new Error(`load generator exited with ${code}`)) })
    })
    return {
      name,
      delivered: result.delivered,
      perSecond: result.delivered / result.seconds,
      p50: result.p50,
      p99: result.p99,
      cpuPerMessage: cpu / result.delivered,
      cpuShare: cpu / (wall * 1000),
      servicesCpuPerMessage: servicesCpu / result.delivered,
      loopMax: (await loop).max,
      loopP99: (await loop).p99,
      idleKb,
      loadGcMax: result.gcMax,
      loadGcShare: result.gcShare
    }
  } finally {
    for (const server of servers) server.kill(values.profile === undefined ? 'SIGKILL' : 'SIGTERM')
    rmSync(work, { recursive: true, force: true })
    if (target.postgres === true) await dropSchema(schema)
  }
}

const duologEnv = DUOLOG_BENCH_ENV
const targets: Target[] = values.scenario === 'cluster'
  ? [
      { name: 'one duolog, SQLite', mode: 'duolog', entry: here('../src/server.ts'), env: duologEnv },
      { name: 'one duolog, PostgreSQL', mode: 'duolog', entry: here('../src/server.ts'), env: duologEnv, postgres: true },
      { name: 'two duologs, PostgreSQL + Redis', mode: 'duolog', entry: here('../src/server.ts'), env: { ...duologEnv, DUOLOG_REDIS_URL: redisUrl }, postgres: true, instances: 2 }
    ]
  : [
      { name: 'bare ws relay, echo (no auth, no storage)', mode: 'bare', entry: here('./bare-relay.ts'), env: {} },
      { name: 'ack-ing relay (forward + ack: the floor)', mode: 'bare', entry: here('./bare-relay.ts'), env: { BARE_ACK: '1' } },
      { name: 'duolog (JWT, SQLite, stored before sent)', mode: 'duolog', entry: here('../src/server.ts'), env: duologEnv }
    ]
// The baseline runs as the scenario's duolog it is compared with: SQLite, or PostgreSQL in the cluster scenario.
// Each version with the Node.js flags its own `npm start` gives it.
if (values.baseline !== undefined) targets.push({ name: `duolog baseline (${values.baseline})`, mode: 'duolog', entry: join(values.baseline, 'src/server.ts'), env: duologEnv, postgres: values.scenario === 'cluster', flags: shippedNodeFlags(values.baseline) })

/** The prefilled data directory every SQLite duolog starts from a copy of (--prefill). */
let prefilled: string | undefined
if (values.prefill !== undefined) {
  prefilled = mkdtempSync(join(tmpdir(), 'duolog-prefill-'))
  execFileSync(process.execPath, ['--import', 'tsx', here('./prefill.ts'), prefilled, values.prefill, String(Math.max(10_000, pairs * 2))], { stdio: 'inherit' })
  process.on('exit', () => { rmSync(prefilled as string, { recursive: true, force: true }) })
}

process.stdout.write(`${pairs} pairs (${pairs * 2} connections), ${values.rate === undefined ? `${String(values['in-flight'])} in flight per client` : `${values.rate} messages/s offered`}, ${values.seconds}s measured after ${values.warmup}s warm-up${values.prefill === undefined ? '' : `, on a database prefilled with ${values.prefill} messages`}; ` +
  `${pin ? 'server on CPU 0, load on CPU 1' : 'no CPU pinning (taskset or a second CPU missing)'}\n\n`)
// Rounds alternate the two servers, so that both see the same machine (it is shared and noisy).
const rounds = Number(values.rounds)
const results: Result[] = []
const ratios: number[] = []
const floorRatios: number[] = []
const versusBaseline: number[] = []
const clusterRatios: Array<{ cost: number, throughput: number, p99: number, p50Added: number }> = []
const idleLoops: Array<{ max: number, p99: number }> = []
for (let round = 1; round <= rounds; round++) {
  const inRound: Result[] = []
  if (values.scenario !== 'cluster') idleLoops.push(await idleLoopDelay())
  for (const target of targets) {
    if (values.only !== undefined && values.only !== target.mode) continue
    inRound.push(await measure({ ...target, name: rounds > 1 ? `${target.name}, round ${round}` : target.name }))
  }
  results.push(...inRound)
  if (values.scenario === 'cluster') {
    const [sqlite, postgres, two, baseline] = inRound as [Result, Result, Result, Result | undefined]
    const total = (r: Result): number => r.cpuPerMessage + r.servicesCpuPerMessage
    clusterRatios.push({ cost: total(postgres) / total(sqlite), throughput: two.perSecond / postgres.perSecond, p99: two.p99 / postgres.p99, p50Added: two.p50 - postgres.p50 })
    if (baseline !== undefined) versusBaseline.push(total(postgres) / total(baseline))
    continue
  }
  const byName = (prefix: string): Result | undefined => inRound.find((r) => r.name.startsWith(prefix))
  const [bare, floor, duolog, baseline] = [byName('bare ws relay'), byName('ack-ing relay'), byName('duolog ('), byName('duolog baseline')]
  if (bare !== undefined && duolog !== undefined) ratios.push(duolog.cpuPerMessage / bare.cpuPerMessage)
  if (floor !== undefined && duolog !== undefined) floorRatios.push(duolog.cpuPerMessage / floor.cpuPerMessage)
  if (duolog !== undefined && baseline !== undefined) versusBaseline.push(duolog.cpuPerMessage / baseline.cpuPerMessage)
}
const ms = (v: number): string => Number.isNaN(v) ? '-' : v.toFixed(1)
const rows = results.map((r) => [r.name, r.perSecond.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), r.cpuPerMessage.toFixed(1), `${(r.cpuShare * 100).toFixed(0)}%`, r.servicesCpuPerMessage.toFixed(1), ms(r.loopMax), ms(r.loopP99), ms(r.idleKb), `${ms(r.loadGcMax)} / ${(r.loadGcShare * 100).toFixed(1)}%`])
const header = ['server', 'delivered/s', 'p50 ms', 'p99 ms', 'server CPU µs/msg', 'server CPU', 'PG+Redis CPU µs/msg', 'loop delay max ms', 'p99 ms', 'KB/idle conn', 'load GC max ms / share']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
for (const row of [header, ...rows]) process.stdout.write(row.map((c, i) => i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)).join('  ') + '\n')
if (idleLoops.length > 0) {
  process.stdout.write('\nevent-loop delay of an idle Node.js process on the servers\' CPU, same window, each round: ' +
    `max ${idleLoops.map((l) => ms(l.max)).join(', ')} ms; p99 ${idleLoops.map((l) => ms(l.p99)).join(', ')} ms\n`)
}
const median = (list: number[]): string => ([...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] as number).toFixed(2)
if (floorRatios.length > 0) {
  process.stdout.write(`\nduolog / ack-ing floor server CPU per delivered message, each round's servers measured back to back: ${floorRatios.map((r) => r.toFixed(2) + 'x').join(', ')}` +
    ` (median ${median(floorRatios)}x, target at most 1.5x)\n`)
}
if (ratios.length > 0) {
  process.stdout.write(`duolog / echoing bare relay, the same: ${ratios.map((r) => r.toFixed(2) + 'x').join(', ')} (median ${median(ratios)}x)\n`)
}
if (versusBaseline.length > 0) {
  const sorted = [...versusBaseline].sort((a, b) => a - b)
  const what = values.scenario === 'cluster' ? 'one duolog on PostgreSQL / baseline, CPU of duolog + PostgreSQL + Redis processes' : 'duolog / baseline server CPU'
  process.stdout.write(`${what} per delivered message, same rounds: ${versusBaseline.map((r) => r.toFixed(2) + 'x').join(', ')}` +
    ` (median ${(sorted[Math.floor(sorted.length / 2)] as number).toFixed(2)}x)\n`)
}
if (clusterRatios.length > 0) {
  const list = (key: 'cost' | 'throughput' | 'p99'): string => clusterRatios.map((r) => r[key].toFixed(2) + 'x').join(', ')
  process.stdout.write(`\nCPU per delivered message (duolog + PostgreSQL + Redis processes), PostgreSQL / SQLite: ${list('cost')}\n` +
    `two instances + Redis / one instance (both PostgreSQL): throughput ${list('throughput')}; p99 ${list('p99')}; ` +
    `p50 ${clusterRatios.map((r) => `${r.p50Added >= 0 ? '+' : ''}${r.p50Added.toFixed(2)} ms`).join(', ')} (target within 2 ms)\n`)
}
