import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type Socket } from 'node:net'
import WebSocket from 'ws'
import Database from 'better-sqlite3'
import { retainForProcessLifetime } from '../src/store/sqlite.js'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig, type Config, type Env } from '../src/config.js'

export const JWT_SECRET = 'test-secret-that-is-long-enough-0123456789'
export const SERVICE_ID = 'backend'
export const SERVICE_SECRET = 'backend-secret-0123456789'

interface Teardown { teardown: (fn: () => unknown) => void }

export interface TestServer {
  app: FastifyInstance
  config: Config
  url: string
  wsUrl: string
  dataDir: string
}

export function tempDir (): string {
  return mkdtempSync(join(tmpdir(), 'duolog-test-'))
}

export function testEnv (overrides: Env = {}): Env {
  return {
    DUOLOG_DATA_DIR: tempDir(),
    DUOLOG_JWT_SECRET: JWT_SECRET,
    DUOLOG_SERVICE_CLIENTS: `${SERVICE_ID}:${SERVICE_SECRET}`,
    DUOLOG_AUTH_RATE_LIMIT: '100000',
    DUOLOG_SERVICE_RATE_LIMIT: '100000',
    // Suites send fast; test/relay/limits.test.ts sets the limits it tests.
    DUOLOG_SEND_RATE: '1000000',
    DUOLOG_SEND_BURST: '1000000',
    DUOLOG_READ_RATE: '1000000',
    DUOLOG_READ_BURST: '1000000',
    DUOLOG_LOG_LEVEL: 'silent',
    ...overrides
  }
}

/** A real duolog listening on an ephemeral port, closed when the test ends. */
export async function startServer (t: Teardown, overrides: Env = {}): Promise<TestServer> {
  const config = loadConfig(testEnv(overrides))
  const app = await buildApp(config, false)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  return { app, config, url: `http://127.0.0.1:${address.port}`, wsUrl: `ws://127.0.0.1:${address.port}/v1/ws`, dataDir: config.dataDir }
}

export interface ApiResponse {
  status: number
  body: any
  headers: Headers
}

export async function api (base: string | TestServer, method: string, path: string, options: { token?: string, body?: unknown, rawBody?: string } = {}): Promise<ApiResponse> {
  const url = (typeof base === 'string' ? base : base.url) + path
  const headers: Record<string, string> = {}
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  let body: string | undefined
  if (options.rawBody !== undefined) {
    body = options.rawBody
    headers['content-type'] = 'application/json'
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body)
    headers['content-type'] = 'application/json'
  }
  const res = await fetch(url, { method, headers, body })
  const text = await res.text()
  let parsed: unknown = text
  try { parsed = JSON.parse(text) } catch {}
  return { status: res.status, body: parsed, headers: res.headers }
}

export async function serviceToken (server: TestServer | string): Promise<string> {
  const res = await api(server, 'POST', '/v1/auth/token', { body: { clientId: SERVICE_ID, clientSecret: SERVICE_SECRET } })
  if (res.status !== 200) throw new Error(`service token: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.accessToken
}

/** Creates users through the service (no scrypt) and returns a user token for each. */
export async function users (server: TestServer | string, ...ids: string[]): Promise<string[]> {
  const service = await serviceToken(server)
  const tokens: string[] = []
  for (const id of ids) {
    const created = await api(server, 'POST', '/v1/users', { token: service, body: { id } })
    if (created.status !== 201) throw new Error(`create ${id}: ${created.status} ${JSON.stringify(created.body)}`)
    const minted = await api(server, 'POST', `/v1/users/${id}/tokens`, { token: service })
    tokens.push(minted.body.accessToken)
  }
  return tokens
}

export type Frame = Record<string, any>

/** A real WebSocket client that queues every frame it receives, in order. */
export class Client {
  readonly frames: Frame[] = []
  private read = 0
  private waiter: (() => void) | undefined
  readonly closed: Promise<{ code: number, reason: string }>

  private constructor (readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()))
      this.waiter?.()
    })
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => { resolve({ code, reason: reason.toString() }); this.waiter?.() })
    })
    ws.on('error', () => {})
  }

  /** Connects; with a token, sends it in the Authorization header (the default) or as the first frame. */
  static async connect (server: TestServer | string, token?: string, options: { via?: 'header' | 'frame', waitReady?: boolean, after?: number } = {}): Promise<Client> {
    let url = typeof server === 'string' ? server : server.wsUrl
    if (options.after !== undefined && options.via !== 'frame') url += `?after=${options.after}`
    const via = options.via ?? 'header'
    const headers: Record<string, string> = {}
    if (token !== undefined && via === 'header') headers.authorization = `Bearer ${token}`
    const ws = new WebSocket(url, { headers })
    const client = new Client(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => { resolve() })
      ws.once('unexpected-response', (_req, res) => { reject(new Error(`unexpected response ${res.statusCode}`)) })
      ws.once('error', reject)
    })
    if (token !== undefined && via === 'frame') client.send({ type: 'auth', token, after: options.after })
    if (token !== undefined && options.waitReady !== false) await client.next('ready')
    return client
  }

  send (frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** The TCP socket under the WebSocket (not in ws's typed API): to stop reading, or to cork writes. */
  get tcp (): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket
  }

  /** The next frame in arrival order; with a type, it must be of that type. */
  async next (type?: string, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    while (this.read >= this.frames.length) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed while waiting for ${type ?? 'a frame'}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${type ?? 'a frame'}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiter = () => { clearTimeout(timer); resolve() }
      })
    }
    const frame = this.frames[this.read++] as Frame
    if (type !== undefined && frame.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(frame)}`)
    return frame
  }

  /** Frames received and not yet read. */
  unread (): Frame[] {
    return this.frames.slice(this.read)
  }

  /** Waits until no frame arrives for quietMs and returns what came. */
  async drain (quietMs = 100): Promise<Frame[]> {
    let seen = -1
    while (seen !== this.frames.length) {
      seen = this.frames.length
      await new Promise((resolve) => setTimeout(resolve, quietMs))
    }
    const rest = this.frames.slice(this.read)
    this.read = this.frames.length
    return rest
  }

  async close (): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close()
    await this.closed
  }
}

/** A raw HTTP/1.1 connection: what a client sent so far, and everything the server answered. */
export async function rawHttp (url: string): Promise<{ socket: Socket, answer: () => string, ended: Promise<void> }> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  let answer = ''
  socket.on('data', (chunk) => { answer += chunk.toString() })
  socket.on('error', () => {})
  const ended = new Promise<void>((resolve) => { socket.on('close', () => { resolve() }) })
  return { socket, answer: () => answer, ended }
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls until fn returns true (for effects that happen after a socket closes). */
export async function eventually (fn: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(20)
  }
}

/**
 * Opens a SQLite file read-only, to look at what the store wrote. Its objects are kept for the
 * life of the process, as the store keeps its own (see retainForProcessLifetime).
 */
export function inspectDatabase (file: string): Database.Database {
  const db = retainForProcessLifetime(new Database(file, { readonly: true }))
  const prepare = db.prepare.bind(db)
  db.prepare = ((sql: string) => retainForProcessLifetime(prepare(sql))) as typeof db.prepare
  return db
}
