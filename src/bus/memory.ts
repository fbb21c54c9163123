import { Listeners, type Bus, type Listener } from './bus.js'

const PUBLISHED = Promise.resolve()

/** The medium in-process buses share: one per process (or one per test "cluster"). */
export class MemoryHub {
  readonly subscribers = new Map<string, Set<MemoryBus>>()
}

/**
 * The embedded default: fan-out inside one process, synchronous. Same contract as the
 * Redis bus (test/bus/contract.ts), so the relay cannot tell them apart.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory'
  private readonly listeners = new Listeners()

  constructor (private readonly hub: MemoryHub = new MemoryHub()) {}

  /** Delivers at once; returns one shared settled promise (two publishes per message: no allocation for it). */
  publish (channel: string, payload: string): Promise<void> {
    const buses = this.hub.subscribers.get(channel)
    if (buses !== undefined) for (const bus of buses) bus.listeners.deliver(channel, payload)
    return PUBLISHED
  }

  async subscribe (channel: string, listener: Listener): Promise<void> {
    if (!this.listeners.add(channel, listener)) return
    let set = this.hub.subscribers.get(channel)
    if (set === undefined) this.hub.subscribers.set(channel, set = new Set())
    set.add(this)
  }

  async unsubscribe (channel: string, listener: Listener): Promise<void> {
    if (!this.listeners.remove(channel, listener)) return
    this.leave(channel)
  }

  private leave (channel: string): void {
    const set = this.hub.subscribers.get(channel)
    set?.delete(this)
    if (set?.size === 0) this.hub.subscribers.delete(channel)
  }

  async close (): Promise<void> {
    for (const channel of this.listeners.channels()) this.leave(channel)
    this.listeners.clear()
  }
}
