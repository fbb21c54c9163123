import t from 'tap'
import { MemoryBus, MemoryHub } from '../../src/bus/memory.js'
import { MemoryPresence } from '../../src/presence/memory.js'
import { presenceContract } from './contract.js'

presenceContract(t, async () => {
  const hub = new MemoryHub()
  const bus = new MemoryBus(hub)
  const shared = new MemoryPresence((channel, payload) => { void bus.publish(channel, payload) })
  return {
    store: async () => shared,
    listen: async (channel, handler) => { await new MemoryBus(hub).subscribe(channel, handler) }
  }
})
