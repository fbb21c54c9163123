import { randomUUID } from 'node:crypto'
import { Errors } from '../errors.js'
import type { Log } from '../log.js'
import type { PresenceStore, UserPresence } from './store.js'

/** The longest a swept lease waits for another instance to notice: the sweep period's cap. */
const MAX_SWEEP_MS = 1000
const REFRESH_SLICE = 1000

export interface TrackerOptions {
  leaseMs: number
  graceMs: number
  /**
   * This instance's connected users and their connection counts, for lease renewal: a live
   * view (a renewal reads it over several turns of the event loop, and must not renew a user
   * who has left meanwhile).
   */
  localUsers: () => Iterable<[string, number]>
  /** A user went offline because an instance's lease on them ran out (the instance died). */
  onExpired: (userId: string, lastSeen: number) => void
  log: Log
}

/**
 * This instance's side of presence: tells the shared PresenceStore when a user's connections
 * here come and go, keeps the grace period after the last one closes (a reload, even onto
 * another instance, does not flap), renews its leases and sweeps those of dead instances.
 * Calls to the store go out in order; one that fails (Redis down) is logged, and the next
 * renewal puts this instance's leases back.
 */
export class PresenceTracker {
  readonly instance = randomUUID()
  private readonly lingering = new Map<string, NodeJS.Timeout>()
  private readonly timers: NodeJS.Timeout[]
  private closed = false

  constructor (private readonly store: PresenceStore, private readonly options: TrackerOptions) {
    const renew = Math.floor(options.leaseMs / 3)
    this.timers = [
      setInterval(() => { this.refresh() }, renew),
      setInterval(() => { this.sweep() }, Math.min(MAX_SWEEP_MS, renew))
    ]
    for (const timer of this.timers) timer.unref()
  }

  /** userId now has `count` (> 0) connections here: one opened, or one of several closed. */
  connected (userId: string, count: number): void {
    clearTimeout(this.lingering.get(userId))
    this.lingering.delete(userId)
    const now = Date.now()
    this.run(this.store.connect(this.instance, userId, count, now, now + this.options.leaseMs), userId)
  }

  /** A connection of userId closed here at `now`; `count` is how many are left. */
  disconnected (userId: string, count: number, now: number): void {
    if (count > 0) {
      this.connected(userId, count)
      return
    }
    this.run(this.store.linger(this.instance, userId, now, now + this.options.graceMs), userId)
    // Shutting down: the lease runs out after the grace and another instance sweeps it.
    if (this.closed) return
    const timer = setTimeout(() => {
      this.lingering.delete(userId)
      this.run(this.store.leave(this.instance, userId, Date.now()), userId)
    }, this.options.graceMs)
    timer.unref()
    this.lingering.set(userId, timer)
  }

  /** Rejects with presence_unavailable (503) when the store does not answer: not knowing is not "offline". */
  async state (userIds: readonly string[]): Promise<Map<string, UserPresence>> {
    try {
      return await this.store.state(userIds, Date.now())
    } catch (err) {
      this.options.log.warn({ err }, 'reading presence failed')
      throw new Errors.PresenceUnavailable()
    }
  }

  private refresh (): void {
    const now = Date.now()
    // In slices a turn of the event loop apart, so that one renewal never holds Redis, nor
    // this process (19,000 users renewed at once held it for tens of ms), for long. The users
    // are read as the slices go, not copied first: one who left between two slices is not
    // renewed (that would undo the grace their last close started, and keep them online until
    // the lease ran out), and no copy of every user outlives the turns.
    const users = this.options.localUsers()[Symbol.iterator]()
    const renew = (): void => {
      if (this.closed) return
      const slice: Array<[string, number]> = []
      for (let next = users.next(); next.done !== true; next = users.next()) {
        if (slice.push(next.value) === REFRESH_SLICE) break
      }
      if (slice.length === 0) return
      this.run(this.store.refresh(this.instance, slice, now, now + this.options.leaseMs))
      if (slice.length === REFRESH_SLICE) setImmediate(renew)
    }
    renew()
  }

  private sweep (): void {
    this.store.sweep(Date.now()).then((offline) => {
      for (const { userId, lastSeen } of offline) this.options.onExpired(userId, lastSeen)
    }, (err: unknown) => { this.options.log.warn({ err }, 'presence sweep failed') })
  }

  private run (call: Promise<void>, userId?: string): void {
    call.catch((err: unknown) => { this.options.log.warn({ err, userId }, 'presence update failed') })
  }

  /**
   * Stops renewing. Users still connected here linger (the sockets are closing with
   * server_shutdown and their clients reconnect elsewhere); other instances sweep what is left.
   */
  close (): void {
    this.closed = true
    for (const timer of this.timers) clearInterval(timer)
    for (const timer of this.lingering.values()) clearTimeout(timer)
    this.lingering.clear()
  }
}
