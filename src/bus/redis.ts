import { once } from 'node:events'
import { Redis } from 'ioredis'
import { Listeners, type Bus, type Listener } from './bus.js'
import { redisName } from './channels.js'
import type { Log } from '../log.js'

export interface RedisBusOptions {
  url: string
  /** Prepended to every channel, so that several deployments can share one Redis. */
  prefix: string
  log: Log
  /** Told about each failure (publish, a payload a listener could not handle, a connection error). */
  failed?: (operation: 'publish' | 'receive' | 'connection') => void
}

/**
 * Redis pub/sub. Two connections, as Redis requires: one in subscriber mode, one to publish.
 * Redis pub/sub is at most once (a subscriber that is disconnected misses what is published
 * meanwhile), which is all the Bus contract promises. After a disconnect both connections
 * reconnect by themselves and the subscriber subscribes again to every channel it had.
 */
export class RedisBus implements Bus {
  readonly kind = 'redis'
  private readonly publisher: Redis
  private readonly subscriber: Redis
  private readonly listeners: Listeners

  constructor (private readonly options: RedisBusOptions) {
    const failed = options.failed ?? (() => {})
    this.listeners = new Listeners((err, channel) => {
      failed('receive')
      options.log.error({ err, channel }, 'a bus listener failed')
    })
    const retryStrategy = (times: number): number => Math.min(50 * times, 2000)
    // No offline queue on the publisher: while Redis is down, a publish fails at once
    // instead of piling up (the store has the message; clients catch up from it).
    this.publisher = new Redis(options.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy, enableAutoPipelining: true })
    this.subscriber = new Redis(options.url, { autoResubscribe: true, maxRetriesPerRequest: null, retryStrategy })
    const onError = (err: Error): void => { failed('connection'); options.log.warn({ err: err.message }, 'redis bus') }
    this.publisher.on('error', onError)
    this.subscriber.on('error', onError)
    this.subscriber.on('message', (channel: string, payload: string) => { this.listeners.deliver(channel, payload) })
  }

  private channel (name: string): string {
    return redisName(this.options.prefix, name)
  }

  /** Resolves once both connections are up (for start-up and tests). */
  async ready (): Promise<void> {
    await Promise.all([this.publisher, this.subscriber].map(async (connection) => {
      if (connection.status !== 'ready') await once(connection, 'ready')
    }))
  }

  async publish (channel: string, payload: string): Promise<void> {
    try {
      await this.publisher.publish(this.channel(channel), payload)
    } catch (err) {
      this.options.failed?.('publish')
      this.options.log.warn({ err: (err as Error).message, channel }, 'publishing failed')
    }
  }

  async subscribe (channel: string, listener: Listener): Promise<void> {
    const name = this.channel(channel)
    this.listeners.add(name, listener)
    // Sent for every listener (Redis ignores a repeat), so that each resolves only once
    // the subscription is in place, even while the first one is still on its way.
    await this.subscriber.subscribe(name)
  }

  async unsubscribe (channel: string, listener: Listener): Promise<void> {
    const name = this.channel(channel)
    if (this.listeners.remove(name, listener)) await this.subscriber.unsubscribe(name)
  }

  async close (): Promise<void> {
    this.listeners.clear()
    // quit() waits for Redis to answer; a connection that is not up is just dropped.
    await Promise.allSettled([this.publisher, this.subscriber].map(async (connection) => {
      if (connection.status === 'ready') await connection.quit()
      else connection.disconnect()
    }))
  }
}
