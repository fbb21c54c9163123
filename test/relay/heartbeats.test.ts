import t from 'tap'
import { HEARTBEAT_SLICE, Heartbeats } from '../../src/relay/heartbeats.js'
import type { Connection } from '../../src/relay/connection.js'

/** Stands in for connections: counts pings and terminations. */
function fakes (count: number): Array<{ pings: number, terminated: boolean } & Pick<Connection, 'ping' | 'terminate'>> {
  return Array.from({ length: count }, () => {
    const fake = { pings: 0, terminated: false, ping () { fake.pings++ }, terminate () { fake.terminated = true } }
    return fake
  })
}

t.test('many connections are pinged a slice per turn of the event loop, each once', async (t) => {
  const connections = fakes(HEARTBEAT_SLICE * 4 + 10)
  const heartbeats = new Heartbeats(() => connections as unknown as Connection[], 3_600_000)
  t.teardown(() => { heartbeats.close() })
  heartbeats.check()
  t.equal(connections.filter((c) => c.pings === 1).length, HEARTBEAT_SLICE, 'one slice at once')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.same([...new Set(connections.map((c) => c.pings))], [1], 'the others in later turns, each pinged once')
  // One is heard from; the rest stay silent for a whole interval.
  heartbeats.heard(connections[7] as unknown as Connection)
  heartbeats.check()
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(connections.filter((c) => c.terminated).length, connections.length - 1, 'the silent ones are dropped')
  t.equal(connections[7]?.terminated, false)
  t.equal(connections[7]?.pings, 2, 'the one that answered is pinged again')
})

t.test('close stops a check in progress', async (t) => {
  const connections = fakes(HEARTBEAT_SLICE * 3)
  const heartbeats = new Heartbeats(() => connections as unknown as Connection[], 3_600_000)
  heartbeats.check()
  heartbeats.close()
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(connections.filter((c) => c.pings > 0).length, HEARTBEAT_SLICE, 'only the first slice')
})
