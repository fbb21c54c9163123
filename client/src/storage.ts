/**
 * Where the client keeps what must survive a restart or a page reload: the resume position
 * and the sends not yet stored. Async, so that any key-value store fits.
 */
export interface Storage {
  get: (key: string) => Promise<string | undefined>
  set: (key: string, value: string) => Promise<void>
  delete: (key: string) => Promise<void>
}

/** Kept in memory: lost with the process (the default). */
export class MemoryStorage implements Storage {
  private readonly values = new Map<string, string>()

  async get (key: string): Promise<string | undefined> {
    return this.values.get(key)
  }

  async set (key: string, value: string): Promise<void> {
    this.values.set(key, value)
  }

  async delete (key: string): Promise<void> {
    this.values.delete(key)
  }
}

interface WebStorage {
  getItem: (key: string) => string | null
  setItem: (key: string, value: string) => void
  removeItem: (key: string) => void
}

/** A browser's localStorage (or any Web Storage), under a prefix: survives a reload. */
export class LocalStorage implements Storage {
  constructor (private readonly prefix = 'duolog:', private readonly store: WebStorage = (globalThis as unknown as { localStorage: WebStorage }).localStorage) {}

  async get (key: string): Promise<string | undefined> {
    return this.store.getItem(this.prefix + key) ?? undefined
  }

  async set (key: string, value: string): Promise<void> {
    this.store.setItem(this.prefix + key, value)
  }

  async delete (key: string): Promise<void> {
    this.store.removeItem(this.prefix + key)
  }
}
