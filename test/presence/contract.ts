import type { Test } from 'tap'
import type { PresenceStore } from '../../src/presence/store.js'
import { decodePresence } from '../../src/presence/store.js'
import { Channels } from '../../src/bus/channels.js'
import { eventually, sleep } from '../helpers.js'

/** The shared presence state of one deployment, as its instances see it. */
export interface PresenceCluster {
  /** A PresenceStore as one instance holds it (all of a cluster share one state). */
  store (): Promise<PresenceStore>
  /** Starts collecting the presence events of a user, as a watcher's instance gets them. */
  listen (channel: string, handler: (payload: string) => void): Promise<void>
}

/** The contract every PresenceStore keeps: a function taking a factory, run per backend. */
export function presenceContract (t: Test, makeCluster: (t: Test) => Promise<PresenceCluster>): void {
  const T0 = 1_800_000_000_000
  const LEASE = 10_000
  const GRACE = 1_000

  async function setup (t: Test, userId: string): Promise<{ a: PresenceStore, b: PresenceStore, events: Array<{ online: boolean, at: number }> }> {
    const cluster = await makeCluster(t)
    const a = await cluster.store()
    const b = await cluster.store()
    t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
    const events: Array<{ online: boolean, at: number }> = []
    await cluster.listen(Channels.presence(userId), (payload) => {
      const event = decodePresence(payload)
      if (event !== undefined) events.push(event)
    })
    return { a, b, events }
  }

  /** Lets events in flight arrive, then takes what came. */
  async function settled (events: Array<{ online: boolean, at: number }>, count: number): Promise<Array<{ online: boolean, at: number }>> {
    await eventually(() => events.length >= count)
    await sleep(50)
    return events.splice(0)
  }

  t.test('online once on the first connection anywhere; connections add up over instances', async (t) => {
    const { a, b, events } = await setup(t, 'alice')
    t.same((await a.state(['alice'], T0)).get('alice'), { online: false, connections: 0, lastAlive: null }, 'never seen')
    await a.connect('A', 'alice', 1, T0, T0 + LEASE)
    await a.connect('A', 'alice', 2, T0 + 1, T0 + 1 + LEASE)
    await b.connect('B', 'alice', 1, T0 + 2, T0 + 2 + LEASE)
    t.same(await settled(events, 1), [{ online: true, at: T0 }], 'one online event')
    t.same((await b.state(['alice', 'nobody'], T0 + 3)).get('alice'), { online: true, connections: 3, lastAlive: T0 + 2 })
    t.same((await b.state(['nobody'], T0 + 3)).get('nobody'), { online: false, connections: 0, lastAlive: null })
  })

  t.test('the last connection closing: online through the grace, then offline at the time it closed', async (t) => {
    const { a, b, events } = await setup(t, 'bob')
    await a.connect('A', 'bob', 1, T0, T0 + LEASE)
    await b.connect('B', 'bob', 1, T0, T0 + LEASE)
    await a.linger('A', 'bob', T0 + 100, T0 + 100 + GRACE)
    await a.leave('A', 'bob', T0 + 100 + GRACE)
    t.same(await settled(events, 1), [{ online: true, at: T0 }], 'B still has bob: no offline')
    await b.linger('B', 'bob', T0 + 200, T0 + 200 + GRACE)
    t.match((await a.state(['bob'], T0 + 300)).get('bob'), { online: true, connections: 0 }, 'online during the grace')
    await b.leave('B', 'bob', T0 + 200 + GRACE)
    t.same(await settled(events, 1), [{ online: false, at: T0 + 200 }], 'offline, lastSeen when the last connection closed')
    t.same((await a.state(['bob'], T0 + 2000)).get('bob'), { online: false, connections: 0, lastAlive: T0 + 200 }, 'nothing left behind but lastSeen')
  })

  t.test('a reload onto another instance inside the grace does not flap', async (t) => {
    const { a, b, events } = await setup(t, 'carol')
    await a.connect('A', 'carol', 1, T0, T0 + LEASE)
    await a.linger('A', 'carol', T0 + 100, T0 + 100 + GRACE)
    await b.connect('B', 'carol', 1, T0 + 500, T0 + 500 + LEASE)
    await a.leave('A', 'carol', T0 + 100 + GRACE)
    t.same(await settled(events, 1), [{ online: true, at: T0 }], 'neither offline nor a second online')
    t.match((await a.state(['carol'], T0 + 2000)).get('carol'), { online: true, connections: 1 })
  })

  t.test('a reconnect on the same instance inside the grace keeps the entry', async (t) => {
    const { a, events } = await setup(t, 'dave')
    await a.connect('A', 'dave', 1, T0, T0 + LEASE)
    await a.linger('A', 'dave', T0 + 100, T0 + 100 + GRACE)
    await a.connect('A', 'dave', 1, T0 + 200, T0 + 200 + LEASE)
    await a.leave('A', 'dave', T0 + 100 + GRACE)
    t.same(await settled(events, 1), [{ online: true, at: T0 }])
    t.match((await a.state(['dave'], T0 + 2000)).get('dave'), { online: true, connections: 1 })
  })

  t.test('an instance that stops renewing: offline once its lease runs out, swept by one instance only', async (t) => {
    const { a, b, events } = await setup(t, 'erin')
    await a.connect('A', 'erin', 2, T0, T0 + LEASE)
    await a.refresh('A', [['erin', 2]], T0 + 3000, T0 + 3000 + LEASE)
    t.match((await b.state(['erin'], T0 + LEASE + 1000)).get('erin'), { online: true }, 'renewed')
    // A dies after its renewal at T0 + 3000.
    const after = T0 + 3000 + LEASE + 1
    t.same((await b.state(['erin'], after)).get('erin'), { online: false, connections: 0, lastAlive: T0 + 3000 }, 'offline as soon as the lease ran out')
    const [first, second] = await Promise.all([a.sweep(after), b.sweep(after)])
    t.same([...first, ...second], [{ userId: 'erin', lastSeen: T0 + 3000 }], 'one sweeper reports it, lastSeen is the last renewal')
    t.same(await settled(events, 2), [{ online: true, at: T0 }, { online: false, at: T0 + 3000 }])
    t.same(await b.sweep(after + 1), [], 'nothing left to sweep')
  })

  t.test('several dead instances make one offline event at the newest time any vouched', async (t) => {
    const { a, b, events } = await setup(t, 'frank')
    await a.connect('A', 'frank', 1, T0, T0 + LEASE)
    await b.connect('B', 'frank', 1, T0 + 500, T0 + 500 + LEASE)
    t.same(await b.sweep(T0 + LEASE + 600), [{ userId: 'frank', lastSeen: T0 + 500 }])
    t.same(await settled(events, 2), [{ online: true, at: T0 }, { online: false, at: T0 + 500 }])
  })

  t.test('a lease swept while its instance was away comes back, online again, on its next renewal', async (t) => {
    const { a, b, events } = await setup(t, 'gina')
    await a.connect('A', 'gina', 1, T0, T0 + LEASE)
    await b.sweep(T0 + LEASE + 1)
    await a.refresh('A', [['gina', 1]], T0 + LEASE + 2, T0 + 2 * LEASE)
    t.same(await settled(events, 3), [{ online: true, at: T0 }, { online: false, at: T0 }, { online: true, at: T0 + LEASE + 2 }])
    t.match((await b.state(['gina'], T0 + LEASE + 3)).get('gina'), { online: true, connections: 1 })
    await a.refresh('A', [], T0 + LEASE + 4, T0 + 2 * LEASE)
    t.same(await b.sweep(T0 + LEASE + 5), [], 'a renewal of nobody changes nothing')
  })

  t.test('among thousands of renewed users, exactly the lapsed ones are swept, however recent the last sweep', async (t) => {
    const { a, b } = await setup(t, 'ivan')
    const many = Array.from({ length: 2000 }, (_, i): [string, number] => [`m${i}`, 1])
    for (const [userId] of many) await a.connect('A', userId, 1, T0, T0 + LEASE)
    await a.connect('A', 'ivan', 1, T0, T0 + LEASE)
    // Everyone but ivan is renewed; ivan's instance vouches for him no more.
    await a.refresh('A', many, T0 + 3000, T0 + 3000 + LEASE)
    t.same(await b.sweep(T0 + LEASE - 1), [], 'nothing has run out yet')
    t.same(await b.sweep(T0 + LEASE + 1), [{ userId: 'ivan', lastSeen: T0 }], 'only ivan')
    // Right after a sweep, a short lease (a grace) still ends on time.
    await a.linger('A', 'm7', T0 + LEASE + 2, T0 + LEASE + 2 + GRACE)
    t.same(await b.sweep(T0 + LEASE + 1 + GRACE), [], 'not before its grace')
    t.same(await b.sweep(T0 + LEASE + 3 + GRACE), [{ userId: 'm7', lastSeen: T0 + LEASE + 2 }], 'swept when its grace ran out')
    t.same(await b.sweep(T0 + 3000 + LEASE - 1), [], 'the renewed ones last their lease')
    // (A sweep may report a bounded number at a time: Redis's does.)
    let swept = 0
    for (let n = -1; n !== 0; swept += n) n = (await b.sweep(T0 + 3000 + LEASE + 1)).length
    t.equal(swept, 1999, 'then all of them')
  })

  t.test('a lingering entry of a dead instance ends after the grace, lastSeen when it closed', async (t) => {
    const { a, b, events } = await setup(t, 'hank')
    await a.connect('A', 'hank', 1, T0, T0 + LEASE)
    await a.linger('A', 'hank', T0 + 100, T0 + 100 + GRACE)
    t.same(await b.sweep(T0 + 100 + GRACE), [{ userId: 'hank', lastSeen: T0 + 100 }])
    await a.leave('A', 'hank', T0 + 200 + GRACE)
    t.same(await settled(events, 2), [{ online: true, at: T0 }, { online: false, at: T0 + 100 }], 'the late leave adds nothing')
  })
}
