import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { connect, createServer, type AddressInfo } from 'node:net'
import pg from 'pg'

/**
 * External services for the suites that need them. Unset: the suite is skipped with a
 * one-line reason naming the variable. CI sets DUOLOG_REQUIRE_SERVICES=1, which turns a
 * missing variable into a failure, so a CI run never passes by skipping them.
 */
function required (name: string, example: string): string | undefined {
  const value = process.env[name]
  if (value !== undefined && value !== '') return value
  return missing(`${name} is not set`, `set ${name}=${example}`)
}

/** Skips the suite with a line saying what to do, or fails it when CI requires services. */
function missing (what: string, todo: string): undefined {
  if (process.env.DUOLOG_REQUIRE_SERVICES === '1') throw new Error(`${what}, and DUOLOG_REQUIRE_SERVICES=1`)
  process.stdout.write(`# skipping: ${todo} to run this suite\n`)
  return undefined
}

export const redisUrl = (): string | undefined => required('DUOLOG_TEST_REDIS_URL', 'redis://127.0.0.1:6379')

export const postgresUrl = (): string | undefined => required('DUOLOG_TEST_DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test')

/** A fresh PostgreSQL schema name, dropped with everything in it when the test ends. */
export function schemaForTest (t: { teardown: (fn: () => unknown) => void }, url: string): string {
  const schema = `duolog_test_${randomBytes(6).toString('hex')}`
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await client.end()
  })
  return schema
}

export interface PrivateRedis {
  url: string
  /** Kills the server (SIGKILL: no goodbye to its clients) and waits for its exit. */
  stop: () => Promise<void>
  /** Starts it again on the same port, empty (it keeps nothing on disk), and waits until it answers. */
  start: () => Promise<void>
}

/**
 * A redis-server of the test's own on a free port, for tests that restart Redis: the shared
 * one serves suites running at the same time, which must not see it go away.
 */
export async function privateRedis (t: { teardown: (fn: () => unknown) => void }): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const stop = async (): Promise<void> => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    const deadline = Date.now() + 5000
    while (!(await answers(port))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  t.teardown(stop)
  await start()
  return { url: `redis://127.0.0.1:${port}`, stop, start }
}

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

async function answers (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.write('PING\r\n') })
    socket.once('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('+PONG')) })
    socket.once('error', () => { resolve(false) })
  })
}

const CHROMIUM = '/usr/bin/chromium'

/** Debian's Chromium for the browser tests; missing, the suite skips (or fails in CI). */
export function chromiumPath (): string | undefined {
  if (existsSync(CHROMIUM)) return CHROMIUM
  return missing(`${CHROMIUM} is missing`, `install Debian's chromium (${CHROMIUM})`)
}

const NGINX = '/usr/sbin/nginx'

/** Debian's nginx, to run the shipped deploy/nginx.conf in front of a test server; missing, the suite skips (or fails in CI). */
export function nginxPath (): string | undefined {
  if (existsSync(NGINX)) return NGINX
  return missing(`${NGINX} is missing`, `install Debian's nginx-light (${NGINX})`)
}

const DOCKER_COMPOSE = '/usr/bin/docker-compose'

/** Debian's docker-compose (1.29), to check that it accepts docker-compose.yml; missing, the suite skips (or fails in CI). */
export function dockerComposePath (): string | undefined {
  if (existsSync(DOCKER_COMPOSE)) return DOCKER_COMPOSE
  return missing(`${DOCKER_COMPOSE} is missing`, `install Debian's docker-compose (${DOCKER_COMPOSE})`)
}
