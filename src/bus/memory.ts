import type { Bus } from './bus.js'

/** The medium in-process buses share: one per process (or one per test "cluster"). */
export class MemoryHub {
  readonly subscribers = new Map<string, Set<(payload: string) => void>>()
}

/**
 * The embedded default: fan-out inside one process, synchronous. Same contract as the
 * Redis bus (test/bus/contract.ts), so the relay cannot tell them apart.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory'
  private readonly handlers = new Map<string, (payload: string) => void>()

  constructor (private readonly hub: MemoryHub = new MemoryHub()) {}

  async publish (channel: string, payload: string): Promise<void> {
    for (const handler of this.hub.subscribers.get(channel) ?? []) handler(payload)
  }

  async subscribe (channel: string, handler: (payload: string) => void): Promise<void> {
    await this.unsubscribe(channel)
    this.handlers.set(channel, handler)
    let set = this.hub.subscribers.get(channel)
    if (set === undefined) this.hub.subscribers.set(channel, set = new Set())
    set.add(handler)
  }

  async unsubscribe (channel: string): Promise<void> {
    const handler = this.handlers.get(channel)
    if (handler === undefined) return
    this.handlers.delete(channel)
    const set = this.hub.subscribers.get(channel)
    set?.delete(handler)
    if (set?.size === 0) this.hub.subscribers.delete(channel)
  }

  async close (): Promise<void> {
    for (const channel of [...this.handlers.keys()]) await this.unsubscribe(channel)
  }
}
