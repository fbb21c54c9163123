import t from 'tap'
import { randomUUID } from 'node:crypto'
import { RedisBus } from '../../src/bus/redis.js'
import { silentLog } from '../../src/log.js'
import { RedisPresence } from '../../src/presence/redis.js'
import { presenceContract } from './contract.js'
import { redisUrl } from '../services.js'

const url = redisUrl()
if (url !== undefined) {
  presenceContract(t, async (t) => {
    // A prefix per cluster: suites running at once never see each other's keys.
    const prefix = `duolog-test:${randomUUID()}:`
    return {
      store: async () => {
        const store = new RedisPresence({ url, prefix, log: silentLog })
        await store.ready()
        return store
      },
      listen: async (channel, handler) => {
        const bus = new RedisBus({ url, prefix, log: silentLog })
        t.teardown(() => bus.close())
        await bus.ready()
        await bus.subscribe(channel, handler)
      }
    }
  })
}
