import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { RedisBus } from '../../src/bus/redis.js'
import { busContract } from './contract.js'
import { redisUrl } from '../services.js'

const url = redisUrl()
if (url !== undefined) {
  busContract(t, async () => {
    // A prefix per cluster: suites running at once never hear each other.
    const prefix = `duolog-test:${randomUUID()}:`
    return {
      node: async () => {
        const bus = new RedisBus({ url, prefix })
        await bus.ready()
        return bus
      },
      disrupt: async () => {
        const admin = new Redis(url)
        await admin.client('KILL', 'TYPE', 'pubsub')
        await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
        await admin.quit()
      }
    }
  })
}
