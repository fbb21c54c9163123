import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { SessionRecord, Store } from '../store/store.js'
import type { Bus } from '../bus/bus.js'
import { Channels } from '../bus/channels.js'
import type { Log } from '../log.js'

export type RefreshResult =
  | { status: 'rotated', session: SessionRecord, refreshToken: string }
  | { status: 'reused', session: SessionRecord }
  | { status: 'invalid' }

const hash = (token: string): string => createHash('sha256').update(token).digest('base64url')

/** How far back each check of the store looks beyond the previous one: instances' clocks may differ this much. */
const CLOCK_MARGIN_MS = 60_000

/**
 * Login sessions: every user token carries its session id (`sid`), so that a logout or a
 * revocation stops the session's access tokens at once, not at their expiry.
 * The store is the truth; revoked ids whose access tokens may still be unexpired are also
 * kept in memory, so that checking a token costs no query.
 */
export class Sessions {
  private readonly revoked = new Map<string, number>()
  private readonly missedListeners = new Set<(sessionIds: string[]) => void>()
  private checkedAt = 0
  private timer: NodeJS.Timeout | undefined

  constructor (
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly log: Log,
    private readonly accessTtlMs: number,
    private readonly refreshTtlMs: number,
    /** How often the store is asked for revocations the bus did not bring (the bound on a missed one). */
    private readonly checkMs: number
  ) {}

  /**
   * Loads the revocations that can still matter (their access tokens are not expired yet),
   * then hears those of the other instances over the bus, and checks the store every
   * `checkMs` for those the bus lost (it is at most once: Redis down or restarting), so a
   * revocation made anywhere lands here within `checkMs` whatever the bus does.
   */
  async load (): Promise<void> {
    // Not awaited: with the bus down, start anyway; the subscription completes when it is back.
    this.bus.subscribe(Channels.sessionsRevoked, (payload) => { this.remember(payload.split(','), false) })
      .catch((err: unknown) => { this.log.warn({ err }, 'subscribing to session revocations failed') })
    this.checkedAt = Date.now()
    for (const id of await this.store.revokedSessions(this.checkedAt - this.accessTtlMs)) this.revoked.set(id, Date.now())
    this.timer = setInterval(() => { void this.check() }, this.checkMs)
    this.timer.unref()
  }

  /**
   * Called with sessions that ended elsewhere and that this instance learned from the store,
   * not from the bus (whose kicks close the sessions' sockets themselves).
   */
  onMissed (listener: (sessionIds: string[]) => void): void {
    this.missedListeners.add(listener)
  }

  /** Learns the revocations made on any instance since the last check. Never rejects. */
  async check (): Promise<void> {
    const started = Date.now()
    let ids: string[]
    try {
      ids = await this.store.revokedSessions(this.checkedAt - CLOCK_MARGIN_MS)
    } catch (err) {
      this.log.warn({ err }, 'checking session revocations failed')
      return
    }
    this.checkedAt = started
    const missed = ids.filter((id) => !this.revoked.has(id))
    if (missed.length === 0) return
    this.remember(missed, false)
    for (const listener of this.missedListeners) listener(missed)
  }

  close (): void {
    clearInterval(this.timer)
  }

  isRevoked (sessionId: string): boolean {
    return this.revoked.has(sessionId)
  }

  /** Starts a session; with `refreshable`, also its first refresh token. */
  async start (userId: string, refreshable: boolean): Promise<{ sessionId: string, refreshToken?: string }> {
    const sessionId = randomUUID()
    const now = Date.now()
    if (!refreshable) {
      await this.store.createSession({ id: sessionId, userId, createdAt: now })
      return { sessionId }
    }
    const refreshToken = randomBytes(32).toString('base64url')
    await this.store.createSession({ id: sessionId, userId, createdAt: now }, { hash: hash(refreshToken), expiresAt: now + this.refreshTtlMs })
    return { sessionId, refreshToken }
  }

  /** Rotates a refresh token: the old one stops working; using it again revokes the session. */
  async refresh (refreshToken: string): Promise<RefreshResult> {
    const next = randomBytes(32).toString('base64url')
    const now = Date.now()
    const outcome = await this.store.rotateRefreshToken(hash(refreshToken), { hash: hash(next), expiresAt: now + this.refreshTtlMs }, now)
    if (outcome.status === 'rotated') return { ...outcome, refreshToken: next }
    if (outcome.status === 'reused') this.remember([outcome.session.id])
    return outcome
  }

  async revoke (sessionId: string): Promise<SessionRecord | undefined> {
    const session = await this.store.revokeSession(sessionId, Date.now())
    if (session !== undefined) this.remember([session.id])
    return session
  }

  /** Ends every session of a user (but `except`); resolves to the ids ended. */
  async revokeUser (userId: string, except?: string): Promise<string[]> {
    const ids = await this.store.revokeUserSessions(userId, Date.now(), except)
    this.remember(ids)
    return ids
  }

  private remember (ids: string[], announce = true): void {
    if (ids.length === 0) return
    if (announce) void this.bus.publish(Channels.sessionsRevoked, ids.join(','))
    const now = Date.now()
    // Forget revocations older than any access token they could stop.
    for (const [id, at] of this.revoked) if (at < now - this.accessTtlMs * 2) this.revoked.delete(id)
    for (const id of ids) this.revoked.set(id, now)
  }
}
