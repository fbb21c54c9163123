/** Failures allowed before an account's logins start to wait. */
const FREE_FAILURES = 5
const FIRST_WAIT_MS = 1000
const LONGEST_WAIT_MS = 15 * 60_000
/** Entries kept at most; past it, those no longer waiting are forgotten. */
const MAX_ENTRIES = 100_000

/**
 * Failed logins per account id, whether or not the account exists (so the answer tells
 * nothing about it): after FREE_FAILURES, each further failure makes the next try wait
 * twice as long, 1 s up to 15 min; a success clears the account. Ids that differ only in
 * case share an entry. Per instance: with several, an attacker gets a few more tries.
 */
export class LoginThrottle {
  private readonly accounts = new Map<string, { failures: number, until: number }>()

  constructor (private readonly now: () => number = Date.now) {}

  /** 0 when a login for `id` may be tried now, else how long it must wait (ms). */
  waitMs (id: string): number {
    const entry = this.accounts.get(id.toLowerCase())
    return entry === undefined ? 0 : Math.max(0, entry.until - this.now())
  }

  failed (id: string): void {
    const key = id.toLowerCase()
    const entry = this.accounts.get(key) ?? { failures: 0, until: 0 }
    entry.failures++
    if (entry.failures >= FREE_FAILURES) {
      entry.until = this.now() + Math.min(LONGEST_WAIT_MS, FIRST_WAIT_MS * 2 ** (entry.failures - FREE_FAILURES))
    }
    this.accounts.set(key, entry)
    if (this.accounts.size > MAX_ENTRIES) this.forgetIdle()
  }

  succeeded (id: string): void {
    this.accounts.delete(id.toLowerCase())
  }

  private forgetIdle (): void {
    const now = this.now()
    for (const [key, entry] of this.accounts) if (entry.until < now) this.accounts.delete(key)
  }
}
