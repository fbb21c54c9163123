import t from 'tap'
import { silentLog } from '../../src/log.js'
import { MemoryPresence } from '../../src/presence/memory.js'
import { PresenceTracker } from '../../src/presence/tracker.js'
import { eventually, sleep } from '../helpers.js'

// Renewals go out in slices of 1,000 users a turn of the event loop apart: more users than
// that make a renewal span several turns, and users come and go between them.
const USERS = 2500
const LEASE = 3000
const GRACE = 100

t.test('a user who leaves while a renewal is under way is not renewed: offline after the grace, not the lease', async (t) => {
  const store = new MemoryPresence(() => {})
  const connected = new Map<string, number>()
  for (let i = 0; i < USERS; i++) connected.set(`u${i}`, 1)
  const leaver = `u${USERS - 1}`
  let left = 0
  const tracker: PresenceTracker = new PresenceTracker(store, {
    leaseMs: LEASE,
    graceMs: GRACE,
    localUsers: () => {
      // The first renewal has begun (its first slice goes out in this turn): the last user,
      // in a later slice, closes its only connection before that slice's turn.
      if (left === 0) {
        queueMicrotask(() => {
          connected.delete(leaver)
          left = Date.now()
          tracker.disconnected(leaver, 0, left)
        })
      }
      return connected.entries()
    },
    onExpired: () => {},
    log: silentLog
  })
  t.teardown(() => { tracker.close() })
  for (const userId of connected.keys()) tracker.connected(userId, 1)

  // The first renewal comes a third of the lease after the start.
  await eventually(() => left !== 0)
  await sleep(GRACE + 300)
  const state = (await tracker.state([leaver, 'u0'])) as Map<string, { online: boolean, lastSeen?: number }>
  t.equal(state.get(leaver)?.online, false, 'offline once the grace is over')
  t.equal(state.get('u0')?.online, true, 'the others are still online')
})
