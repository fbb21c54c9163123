// Load generator, forked by bench/run.ts: N pairs of clients, each sending to its partner with
// one message in flight (the next goes when the previous is acknowledged). Reports, over the
// measured window, the messages delivered to recipients and their latency.
import { readFileSync } from 'node:fs'
import { PerformanceObserver } from 'node:perf_hooks'
import WebSocket from 'ws'

const mode = process.env.MODE as 'duolog' | 'bare'
/** With an interval, each client sends at most one message per interval (a fixed offered rate, below saturation). */
const interval = Number(process.env.INTERVAL_MS ?? '0')
/** Without one: messages each client keeps in flight (the next goes when one is acknowledged). */
const inFlight = interval === 0 ? Number(process.env.IN_FLIGHT ?? '1') : 1

/** Client i connects to urls[i % n]: with two servers, each pair's clients are on different ones. */
const urls = (process.env.WS_URLS as string).split(',')
const pairs = Number(process.env.PAIRS)
const tokens: string[] = mode === 'duolog' ? JSON.parse(readFileSync(process.env.TOKENS_FILE as string, 'utf8')) : []

let measuring = false
let delivered = 0
const latencies: number[] = []

// This process's own GC pauses in the window: a message that arrives during one is timed late
// by as much, whichever server sent it (with 19,000 sockets, 20-45 ms every second or so).
const gcPauses: Array<{ at: number, ms: number }> = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauses.push({ at: entry.startTime, ms: entry.duration })
}).observe({ entryTypes: ['gc'] })

interface Peer { ws: WebSocket, id: string, partner: string, send: () => void }

function connect (index: number): Promise<Peer> {
  const id = `u${index}`
  const partner = `u${index % 2 === 0 ? index + 1 : index - 1}`
  const headers = mode === 'duolog' ? { authorization: `Bearer ${tokens[index]}` } : undefined
  const ws = new WebSocket(urls[index % urls.length] as string, { headers, perMessageDeflate: false })
  let lastSend = 0
  const sendNow = (): void => {
    lastSend = performance.now()
    const content = `t=${lastSend}`
    ws.send(mode === 'duolog' ? JSON.stringify({ type: 'send', to: partner, content }) : JSON.stringify({ toId: partner, content, createTime: Date.now() }))
  }
  // Paced: the next message goes one interval after the previous one was sent (or at once if
  // its acknowledgement came later than that).
  const send = (): void => {
    const wait = interval === 0 ? 0 : lastSend + interval - performance.now()
    if (wait <= 0) sendNow()
    else setTimeout(sendNow, wait)
  }
  return new Promise((resolve, reject) => {
    ws.on('error', reject)
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (mode === 'duolog') {
        if (frame.type === 'ready') { resolve({ ws, id, partner, send }); return }
        if (frame.type === 'sent') { if (running) send(); return }
        if (frame.type === 'message') received(frame.content)
        return
      }
      // The sender's acknowledgement: its echo, or the ack-ing floor's small ack frame.
      if (frame.type === 'ack' || frame.fromId === id) { if (running) send(); return }
      received(frame.content)
    })
    ws.on('open', () => {
      if (mode === 'bare') {
        ws.send(JSON.stringify({ userId: id }))
        resolve({ ws, id, partner, send })
      }
    })
  })
}

function received (content: string): void {
  if (!measuring) return
  delivered++
  latencies.push(performance.now() - Number(content.slice(2)))
}

let running = true
const peers: Peer[] = []
for (let i = 0; i < pairs * 2; i += 200) {
  peers.push(...await Promise.all(Array.from({ length: Math.min(200, pairs * 2 - i) }, (_, k) => connect(i + k))))
}
// Let the bare relay see every announce before anyone sends.
await new Promise((resolve) => setTimeout(resolve, 200))
// With IDLE_MS, every connection stays idle that long first: the server's memory per idle
// connection is read then (bench/run.ts), and the sends start a moment later.
const idle = Number(process.env.IDLE_MS ?? '0')
if (idle > 0) {
  await new Promise((resolve) => setTimeout(resolve, idle))
  process.send?.({ phase: 'idle' })
  await new Promise((resolve) => setTimeout(resolve, 500))
}
// Paced clients start spread over one interval, not all at once.
for (const peer of peers) {
  for (let i = 0; i < inFlight; i++) setTimeout(peer.send, interval === 0 ? 0 : Math.random() * interval)
}

process.send?.({ phase: 'connected' })
await new Promise((resolve) => setTimeout(resolve, Number(process.env.WARMUP_MS)))
measuring = true
const start = performance.now()
process.send?.({ phase: 'start' })
await new Promise((resolve) => setTimeout(resolve, Number(process.env.DURATION_MS)))
process.send?.({ phase: 'end' })
measuring = false
running = false
const seconds = (performance.now() - start) / 1000
latencies.sort((a, b) => a - b)
const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN
const inWindow = gcPauses.filter((pause) => pause.at >= start && pause.at <= start + seconds * 1000).map((pause) => pause.ms)
const gcMs = inWindow.reduce((sum, ms) => sum + ms, 0)
process.send?.({ phase: 'result', delivered, seconds, p50: pct(0.5), p99: pct(0.99), gcMax: Math.max(0, ...inWindow), gcShare: gcMs / (seconds * 1000) }, () => {
  for (const peer of peers) peer.ws.terminate()
  process.exit(0)
})
