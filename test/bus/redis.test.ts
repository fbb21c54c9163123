import t from 'tap'
import { RedisBus } from '../../src/bus/redis.js'
import { silentLog } from '../../src/log.js'
import { busContract } from './contract.js'
import { privateRedis, redisUrl } from '../services.js'

if (redisUrl() !== undefined) {
  busContract(t, async (t) => {
    // A redis-server per cluster, so that restarting it disturbs no other suite.
    const redis = await privateRedis(t)
    return {
      node: async () => {
        const bus = new RedisBus({ url: redis.url, prefix: 'duolog-test:', log: silentLog })
        await bus.ready()
        return bus
      },
      disrupt: async () => {
        await redis.stop()
        await redis.start()
      }
    }
  })
}
