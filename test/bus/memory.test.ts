import t from 'tap'
import { MemoryBus, MemoryHub } from '../../src/bus/memory.js'
import { busContract } from './contract.js'

busContract(t, async () => {
  const hub = new MemoryHub()
  return { node: async () => new MemoryBus(hub) }
})
