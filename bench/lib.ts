// Helpers the benchmarks share: a server's address from its log, a JSON POST, CPU pinning.
import { execFileSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'

/** The Node.js flags a duolog checkout starts its server with: those of its `npm start`. */
export function shippedNodeFlags (checkout: string): string[] {
  const start = (JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as { scripts?: { start?: string } }).scripts?.start ?? ''
  return /\bnode ((?:--\S+ )*)dist\/server\.js/.exec(start)?.[1]?.trim().split(/\s+/).filter((flag) => flag !== '') ?? []
}

/**
 * Node.js flags for every server the benchmarks start, duolog and floors alike: the ones
 * duolog ships with (`npm start`, the image), given to the floors too so that both run with
 * the same runtime settings. A --baseline checkout runs with its own.
 */
export const SERVER_NODE_FLAGS = shippedNodeFlags(fileURLToPath(new URL('..', import.meta.url)))

/** The service client every benchmark's duolog is started with. */
export const SERVICE = { clientId: 'bench', clientSecret: 'bench-secret-0123456789' }

/** What every benchmark's duolog is started with: a secret, the service client, limits lifted (clients send as fast as they are answered). */
export const DUOLOG_BENCH_ENV = {
  DUOLOG_JWT_SECRET: 'bench-secret-that-is-long-enough-0123456789',
  DUOLOG_SERVICE_CLIENTS: `${SERVICE.clientId}:${SERVICE.clientSecret}`,
  DUOLOG_AUTH_RATE_LIMIT: '1000000',
  DUOLOG_SERVICE_RATE_LIMIT: '1000000',
  DUOLOG_SEND_RATE: '1000000',
  DUOLOG_SEND_BURST: '1000000'
}

export async function freePort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

export function hasTaskset (): boolean {
  try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); return true } catch { return false }
}

/** Resolves with the server's base URL once it logs that it listens; its log is dropped after. */
export async function listening (child: ChildProcess): Promise<string> {
  let out = ''
  return await new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (match?.[1] === undefined) return
      // From here on the server's log is read and dropped.
      child.stdout?.off('data', onData)
      child.stdout?.resume()
      resolve(match[1])
    }
    child.stdout?.on('data', onData)
    child.once('exit', (code) => { reject(new Error(`server exited with ${code}`)) })
  })
}

export async function post (url: string, path: string, body: unknown, token?: string): Promise<any> {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return await res.json()
}

export function percentile (sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number
}

export interface Latency { p50: number, p99: number, count: number }
export const summary = (samples: number[]): Latency => {
  const sorted = [...samples].sort((a, b) => a - b)
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), count: sorted.length }
}

/**
 * Observers: `pairs` pairs of users o0..o(2*pairs-1) at 10 messages/s each (latency: send to
 * the partner's `message` frame), and /healthz every 25 ms.
 */
export async function observe (url: string, tokens: Map<string, string>, pairs: number): Promise<{ messages: number[], health: number[], stop: () => void }> {
  const messages: number[] = []
  const health: number[] = []
  const sockets: WebSocket[] = []
  const timers: NodeJS.Timeout[] = []
  for (let i = 0; i < pairs * 2; i++) {
    const ws = new WebSocket(url.replace('http:', 'ws:') + '/v1/ws', { headers: { authorization: `Bearer ${tokens.get(`o${i}`) as string}` }, perMessageDeflate: false })
    sockets.push(ws)
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString())
        if (frame.type === 'ready') resolve()
        if (frame.type === 'message') messages.push(performance.now() - Number(frame.content))
      })
      ws.once('error', reject)
    })
    const partner = `o${i % 2 === 0 ? i + 1 : i - 1}`
    const start = setTimeout(() => {
      timers.push(setInterval(() => { ws.send(JSON.stringify({ type: 'send', to: partner, content: String(performance.now()) })) }, 100))
    }, Math.random() * 100)
    timers.push(start)
  }
  const polling = { on: true }
  void (async () => {
    while (polling.on) {
      const started = performance.now()
      try { await (await fetch(url + '/healthz')).arrayBuffer() } catch {}
      health.push(performance.now() - started)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  })()
  return {
    messages,
    health,
    stop: () => { polling.on = false; for (const t of timers) { clearTimeout(t); clearInterval(t) } for (const ws of sockets) ws.terminate() }
  }
}
