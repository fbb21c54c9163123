// npx tsx bench/bus.ts [--messages 100000] [--rounds 3]
// The CPU one publish and its delivery cost on each Bus, measured in this one process (so
// both halves, publisher and subscriber, are counted): in-process vs Redis pub/sub
// (BENCH_REDIS_URL, default the local one). 1,000 channels, 500 publishes per event-loop turn.
import { parseArgs } from 'node:util'
import { randomUUID } from 'node:crypto'
import type { Bus } from '../src/bus/bus.js'
import { MemoryBus, MemoryHub } from '../src/bus/memory.js'
import { RedisBus } from '../src/bus/redis.js'
import { Channels } from '../src/bus/channels.js'
import { silentLog } from '../src/log.js'

const { values } = parseArgs({ options: { messages: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' } } })
const messages = Number(values.messages)
const url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const CHANNELS = 1000
const payload = 'e12|' + JSON.stringify({ type: 'message', id: 123456, seq: 12, from: 'u1', to: 'u2', content: 't=12345.678', createdAt: new Date().toISOString() })

const cpuMicros = (): number => { const { user, system } = process.cpuUsage(); return user + system }

async function measure (publisher: Bus, subscriber: Bus): Promise<{ cpuPerMessage: number, perSecond: number }> {
  let got = 0
  let done = (): void => {}
  const finished = new Promise<void>((resolve) => { done = resolve })
  for (let c = 0; c < CHANNELS; c++) await subscriber.subscribe(Channels.user(String(c)), () => { if (++got === messages) done() })
  const cpu = cpuMicros()
  const start = performance.now()
  for (let i = 0; i < messages; i += 500) {
    for (let k = i; k < Math.min(i + 500, messages); k++) void publisher.publish(Channels.user(String(k % CHANNELS)), payload)
    await new Promise((resolve) => setImmediate(resolve))
  }
  await finished
  const result = { cpuPerMessage: (cpuMicros() - cpu) / messages, perSecond: messages / ((performance.now() - start) / 1000) }
  await Promise.all([publisher.close(), subscriber.close()])
  return result
}

const ratios: string[] = []
for (let round = 1; round <= Number(values.rounds); round++) {
  const hub = new MemoryHub()
  const memory = await measure(new MemoryBus(hub), new MemoryBus(hub))
  const prefix = `duolog-bench:${randomUUID()}:`
  const [a, b] = [new RedisBus({ url, prefix, log: silentLog }), new RedisBus({ url, prefix, log: silentLog })]
  await Promise.all([a.ready(), b.ready()])
  const redis = await measure(a, b)
  process.stdout.write(`round ${round}: memory ${memory.cpuPerMessage.toFixed(2)} µs CPU/msg (${memory.perSecond.toFixed(0)}/s); ` +
    `redis ${redis.cpuPerMessage.toFixed(2)} µs CPU/msg (${redis.perSecond.toFixed(0)}/s)\n`)
  ratios.push(`${(redis.cpuPerMessage / memory.cpuPerMessage).toFixed(1)}x`)
}
process.stdout.write(`redis / memory CPU per published-and-delivered payload: ${ratios.join(', ')}\n`)
