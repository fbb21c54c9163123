import type { Test } from 'tap'
import type { Bus } from '../../src/bus/bus.js'
import { eventually, sleep } from '../helpers.js'

/** Several bus instances (as on several duolog instances) sharing one medium. */
export interface BusCluster {
  node (): Promise<Bus>
  /** Restarts the medium, cutting every connection to it (media that have none omit it). */
  disrupt?: () => Promise<void>
}

/** The contract every Bus implementation keeps: a function taking a factory, run per backend. */
export function busContract (t: Test, makeCluster: (t: Test) => Promise<BusCluster>): void {
  async function nodes (t: Test, count: number): Promise<Bus[]> {
    const cluster = await makeCluster(t)
    const buses: Bus[] = []
    for (let i = 0; i < count; i++) {
      const bus = await cluster.node()
      t.teardown(() => bus.close())
      buses.push(bus)
    }
    return buses
  }

  t.test('a payload reaches every instance subscribed to its channel, in publish order', async (t) => {
    const [a, b, c] = await nodes(t, 3) as [Bus, Bus, Bus]
    const onB: string[] = []
    const onC: string[] = []
    await b.subscribe('alice', (p) => { onB.push(p) })
    await c.subscribe('alice', (p) => { onC.push(p) })
    const sent = Array.from({ length: 100 }, (_, i) => `m${i}`)
    for (const p of sent) await a.publish('alice', p)
    await eventually(() => onB.length === 100 && onC.length === 100)
    t.same(onB, sent)
    t.same(onC, sent)
  })

  t.test('only the channel subscribed to; nothing after unsubscribe; no subscriber is fine', async (t) => {
    const [a, b] = await nodes(t, 2) as [Bus, Bus]
    const got: string[] = []
    const listener = (p: string): void => { got.push(p) }
    await b.subscribe('bob', listener)
    await a.publish('carol', 'not for bob')
    await a.publish('nobody-listens', 'dropped')
    await a.publish('bob', 'for bob')
    await eventually(() => got.length === 1)
    await b.unsubscribe('bob', listener)
    await b.unsubscribe('bob', listener)
    await a.publish('bob', 'after unsubscribe')
    await sleep(100)
    t.same(got, ['for bob'])
  })

  t.test('many listeners on one channel each get every payload; removing one leaves the others', async (t) => {
    const [a, b] = await nodes(t, 2) as [Bus, Bus]
    const first: string[] = []
    const second: string[] = []
    const one = (p: string): void => { first.push(p) }
    const two = (p: string): void => { second.push(p) }
    await b.subscribe('frank', one)
    await b.subscribe('frank', two)
    await a.publish('frank', 'both')
    await eventually(() => first.length === 1 && second.length === 1)
    await b.unsubscribe('frank', one)
    await a.publish('frank', 'second only')
    await eventually(() => second.length === 2)
    await b.unsubscribe('frank', two)
    await a.publish('frank', 'nobody')
    await sleep(100)
    t.same(first, ['both'], 'the removed listener hears nothing more')
    t.same(second, ['both', 'second only'], 'the other one is not replaced or dropped')
  })

  t.test('an instance hears its own publishes when subscribed', async (t) => {
    const [a] = await nodes(t, 1) as [Bus]
    const got: string[] = []
    await a.subscribe('dave', (p) => { got.push(p) })
    await a.publish('dave', 'echo')
    await eventually(() => got.length === 1)
    t.same(got, ['echo'])
  })

  t.test('after the medium restarts, publishing never throws and delivery resumes', async (t) => {
    const cluster = await makeCluster(t)
    if (cluster.disrupt === undefined) {
      t.pass('this medium has no connections to lose')
      return
    }
    const a = await cluster.node()
    const b = await cluster.node()
    t.teardown(() => Promise.all([a.close(), b.close()]))
    const got: string[] = []
    await b.subscribe('erin', (p) => { got.push(p) })
    await cluster.disrupt()
    await t.resolves(a.publish('erin', 'maybe lost'), 'a publish while reconnecting resolves')
    // At most once: keep publishing until one gets through the re-established subscription.
    await eventually(async () => {
      await a.publish('erin', 'after')
      return got.includes('after')
    }, 10_000)
    t.pass('delivered again after reconnecting and resubscribing')
  })
}
