import pg from 'pg'
import type {
  AppendOutcome, ChangeOutcome, ConversationSummary, MessageChange, StreamEntry, HistoryQuery, NewMessage, ReadOutcome, RefreshOutcome, SessionRecord, Store, StoredMessage, StreamState, UserRecord
} from './store.js'
import { postgresMigrations } from './migrations/postgres.js'
import { changeDrafts, changed, conversationCounters, entryKindCode, eventDrafts, messageCreatedDrafts, toEntry, orderedPair, planAppend, readStep, refreshStep, retryKey, type RefreshTokenRow } from './rules.js'
import { eventIdOf, followUpDrafts, planEvents, withRetryAsked, type Attempt, type ClaimedEvent, type DeliveryRecord, type DeliveryStatus, type EventDraft, type OutboxSettings, type OutboxStore, type RetryOutcome } from './outbox.js'
import type { Log } from '../log.js'
import { Errors } from '../errors.js'

export interface PostgresStoreOptions {
  /** postgres://user@host:port/database */
  url: string
  /** The schema the tables live in (created if missing). */
  schema?: string
  poolSize?: number
  log: Log
  /** The webhook events to write (none when undefined). */
  outbox?: OutboxSettings | undefined
}

// BIGINT columns arrive as numbers: ids and seqs stay far below 2^53.
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)
} as pg.CustomTypesConfig

const MESSAGE_COLUMNS = `m.id, m.sender AS "from", m.recipient AS "to", m.content, m.created_at AS "createdAt",
  m.client_msg_id AS "clientMsgId", m.sender_seq AS "senderSeq", m.recipient_seq AS "recipientSeq", m.edited_at AS "editedAt", m.deleted_at AS "deletedAt"`
const SESSION_COLUMNS = 'id, user_id AS "userId", created_at AS "createdAt", revoked_at AS "revokedAt"'

type Client = pg.PoolClient

/** Attempts at a transaction PostgreSQL aborts for a deadlock (40P01) or a serialization conflict (40001). */
const TX_ATTEMPTS = 4

/**
 * Whether a pg error says the database cannot be reached right now (the connection was cut,
 * the server is shutting down or full) rather than that the statement is wrong: SQLSTATE
 * classes 08 and 57P, 53300, a socket error, or pg's own words for a connection it lost.
 */
function connectionLost (err: unknown): boolean {
  const { code, message } = err as { code?: unknown, message?: unknown }
  if (typeof code === 'string') return /^(08|57P|53300$|E[A-Z]+$)/.test(code)
  return typeof message === 'string' && /^(Connection terminated|Client was closed|Client has encountered a connection error|timeout exceeded when trying to connect)/.test(message)
}

/** The database answers but cannot write now: out of disk or memory (53), or a read-only node (a standby after a failover). */
function cannotWrite (err: unknown): boolean {
  const { code } = err as { code?: unknown }
  return typeof code === 'string' && /^(53|25006$)/.test(code)
}

/**
 * The shared store for several duolog instances. Seqs stay dense under concurrent writers:
 * a batch first locks the `users` rows of everyone it writes to (in id order, so two
 * batches never deadlock) and takes each seq from the row's counter; a later seq of a user
 * therefore always commits after an earlier one, and a resume cursor never skips a message
 * that commits late.
 */
export class PostgresStore implements Store, OutboxStore {
  readonly kind = 'postgres'
  private constructor (private readonly pool: pg.Pool, private readonly log: Log, private readonly outbox: OutboxSettings | undefined) {}

  static async open (options: PostgresStoreOptions): Promise<PostgresStore> {
    const schema = options.schema ?? 'public'
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name "${schema}"`)
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      types,
      options: `-c search_path=${schema}`
    })
    // A pool error (a dropped idle connection) must not crash the process; the next query reconnects.
    pool.on('error', (err) => { options.log.warn({ err: err.message }, 'postgres: an idle connection failed') })
    const store = new PostgresStore(pool, options.log, options.outbox)
    await store.migrate(schema)
    return store
  }

  private async migrate (schema: string): Promise<void> {
    await this.tx(async (c) => {
      // One instance at a time applies migrations; the others wait, then find them applied.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`duolog-migrations:${schema}`])
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)')
      const { rows } = await c.query<{ version: number }>('SELECT coalesce(max(version), 0) AS version FROM schema_migrations')
      const current = rows[0]?.version ?? 0
      for (const [index, sql] of postgresMigrations.entries()) {
        if (index + 1 <= current) continue
        await c.query(sql)
        await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [index + 1, Date.now()])
      }
    })
  }

  /**
   * Runs `work` in a transaction on one connection. A connection that is lost meanwhile fails
   * this transaction only (StoreUnavailable, retryable) and is dropped from the pool. A
   * transaction PostgreSQL aborts to break a deadlock or a serialization conflict is made
   * again (its work rolled back whole): two instances' batches and webhook senders lock rows
   * in orders that can cross, and the one chosen to give way should not fail its sends.
   */
  private async tx<T> (work: (client: Client) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.txOnce(work)
      } catch (err) {
        const { code } = err as { code?: unknown }
        if (attempt >= TX_ATTEMPTS || (code !== '40P01' && code !== '40001')) throw err
        this.log.warn({ err: (err as Error).message, attempt }, 'postgres: transaction aborted by a conflict; making it again')
        // Apart, so that the two do not meet again at once.
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt))
      }
    }
  }

  private async txOnce<T> (work: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.pool.connect().catch((err: unknown) => { throw this.failure(err) })
    // A checked-out connection that drops between two queries emits 'error'; with no listener
    // that would end the process. The query in flight, or the next one, fails instead.
    let lost: Error | undefined
    const onError = (err: Error): void => { lost = err }
    client.on('error', onError)
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      if (lost === undefined && !connectionLost(err)) {
        // The transaction's own error is what the caller needs; a failed rollback only says the connection is gone.
        await client.query('ROLLBACK').catch((rollbackErr: unknown) => { lost = rollbackErr as Error })
      }
      throw this.failure(lost ?? err)
    } finally {
      client.off('error', onError)
      // A connection that failed is destroyed rather than handed to the next transaction.
      client.release(lost)
    }
  }

  /** A query outside a transaction; a lost connection becomes StoreUnavailable. */
  private async query<T extends pg.QueryResultRow> (sql: string, params: unknown[]): Promise<pg.QueryResult<T>> {
    try {
      return await this.pool.query<T>(sql, params)
    } catch (err) {
      throw this.failure(err)
    }
  }

  /** What a caller sees of a pg error: StoreUnavailable (logged with its cause) when the database is out of reach or cannot write. */
  private failure (err: unknown): unknown {
    if (cannotWrite(err)) {
      this.log.warn({ err: (err as Error).message }, 'postgres: cannot write')
      return new Errors.StoreUnavailable()
    }
    if (!connectionLost(err)) return err
    this.log.warn({ err: (err as Error).message }, 'postgres: connection lost')
    return new Errors.StoreUnavailable()
  }

  private async one<T extends pg.QueryResultRow> (sql: string, params: unknown[], client?: Client): Promise<T | undefined> {
    return (client === undefined ? await this.query<T>(sql, params) : await client.query<T>(sql, params)).rows[0]
  }

  async createUser (user: Omit<UserRecord, 'lastSeen'>): Promise<boolean> {
    const result = await this.query('INSERT INTO users (id, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [user.id, user.displayName, user.passwordHash, user.createdAt])
    return result.rowCount === 1
  }

  async getUser (id: string): Promise<UserRecord | undefined> {
    return await this.one<UserRecord>('SELECT id, display_name AS "displayName", password_hash AS "passwordHash", created_at AS "createdAt", last_seen AS "lastSeen" FROM users WHERE id = $1 AND deleted_at IS NULL', [id])
  }

  async updateUser (id: string, changes: { displayName?: string | undefined, passwordHash?: string | undefined }): Promise<boolean> {
    const result = await this.query(`UPDATE users SET display_name = coalesce($2, display_name), password_hash = coalesce($3, password_hash)
      WHERE id = $1 AND deleted_at IS NULL`, [id, changes.displayName ?? null, changes.passwordHash ?? null])
    return result.rowCount === 1
  }

  async deleteUser (id: string, at: number): Promise<boolean> {
    return await this.tx(async (c) => {
      // As appends lock it: no message of this user commits beside the deletion.
      if (await this.one('SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE', [id], c) === undefined) return false
      const deletedAt = new Date(at).toISOString()
      const sent = 'SELECT m.id FROM stream s JOIN messages m ON m.id = s.message_id WHERE s.user_id = $1 AND s.kind = 0 AND m.sender = $1'
      await c.query(`UPDATE webhook_events SET data = jsonb_set(jsonb_set(data::jsonb, '{content}', '""'), '{deletedAt}', to_jsonb($2::text))::text
        WHERE message_id IN (${sent})`, [id, deletedAt])
      await c.query(`UPDATE messages SET content = '', client_msg_id = NULL, deleted_at = coalesce(deleted_at, $2) WHERE id IN (${sent})`, [id, at])
      await c.query('DELETE FROM stream WHERE user_id = $1', [id])
      await c.query('DELETE FROM conversations WHERE user_id = $1', [id])
      await c.query('DELETE FROM blocks WHERE blocker = $1 OR blocked = $1', [id])
      await c.query('DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1)', [id])
      await c.query('UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL', [id, at])
      await c.query('UPDATE users SET display_name = \'\', password_hash = NULL, last_seen = NULL, deleted_at = $2 WHERE id = $1', [id, at])
      await this.writeEvents(c, eventDrafts(this.outbox, 'user.deleted', { id, deletedAt }, [id]))
      return true
    })
  }

  async lastSeen (ids: readonly string[]): Promise<Map<string, number | null>> {
    const { rows } = await this.query<{ id: string, lastSeen: number | null }>('SELECT id, last_seen AS "lastSeen" FROM users WHERE id = ANY($1) AND deleted_at IS NULL', [ids])
    const byId = new Map(rows.map((r) => [r.id, r.lastSeen]))
    const found = new Map<string, number | null>()
    for (const id of ids) if (byId.has(id)) found.set(id, byId.get(id) ?? null)
    return found
  }

  async setLastSeen (id: string, at: number): Promise<void> {
    await this.query('UPDATE users SET last_seen = GREATEST(last_seen, $1) WHERE id = $2', [at, id])
  }

  /**
   * One transaction and a fixed number of statements per batch, whatever its size: look up
   * retried clientMsgIds and blocks, lock the users, then decide every outcome here, take
   * the ids and write every row in one statement (at most seven round trips with BEGIN and
   * COMMIT). Ids are taken after the locks, so a user's ids grow with their seqs.
   *
   * The users' rows stay locked until the commit, and another instance's batch with the same
   * users waits for it: only what needs the lock happens after it (three round trips and the
   * commit), so two instances sharing users cost little more than one.
   */
  async appendMessages (batch: readonly NewMessage[]): Promise<AppendOutcome[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.tx(async (c) => await this.appendTx(c, batch))
      } catch (err) {
        // The same clientMsgId committed by another instance between the lookup and the
        // insert: looked up again, it is a duplicate.
        const { code, constraint } = err as { code?: string, constraint?: string }
        if (attempt < 3 && code === '23505' && constraint === 'messages_idempotency') continue
        throw err
      }
    }
  }

  private async appendTx (c: Client, batch: readonly NewMessage[]): Promise<AppendOutcome[]> {
    // Before the locks: a retry racing on another instance is caught by the unique index (above).
    const retried = await this.retried(c, batch)
    const blocked = await this.blockedPairs(c, batch)
    const involved = [...new Set(batch.flatMap((m) => [m.from, m.to]))].sort()
    const locked = await c.query<{ id: string, lastSeq: number }>('SELECT id, last_seq AS "lastSeq" FROM users WHERE id = ANY($1) AND deleted_at IS NULL ORDER BY id FOR UPDATE', [involved])
    const lastSeq = new Map(locked.rows.map((r) => [r.id, r.lastSeq]))
    const plan = planAppend(batch, {
      earlier: (key) => retried.get(key),
      userExists: (userId) => lastSeq.has(userId),
      blocks: (recipient, sender) => blocked.has(`${recipient}\n${sender}`),
      lastSeq: (userId) => lastSeq.get(userId) ?? 0
    })
    if (plan.fresh.length > 0) await this.insert(c, plan.fresh, plan.lastSeqs)
    // The users' rows are locked above, as writeEvents needs.
    await this.writeEvents(c, messageCreatedDrafts(this.outbox, plan.fresh))
    return plan.outcomes
  }

  /** The batch's (recipient, sender) pairs where the recipient blocks the sender, as "recipient\nsender". */
  private async blockedPairs (c: Client, batch: readonly NewMessage[]): Promise<Set<string>> {
    const { rows } = await c.query<{ blocker: string, blocked: string }>(`SELECT b.blocker, b.blocked FROM blocks b
      JOIN unnest($1::text[], $2::text[]) AS p(recipient, sender) ON b.blocker = p.recipient AND b.blocked = p.sender`,
    [batch.map((m) => m.to), batch.map((m) => m.from)])
    return new Set(rows.map((r) => `${r.blocker}\n${r.blocked}`))
  }

  /** Stored messages of the batch's senders with the batch's clientMsgIds, by retryKey. */
  private async retried (c: Client, batch: readonly NewMessage[]): Promise<Map<string, StoredMessage>> {
    const keyed = batch.filter((m) => m.clientMsgId !== null)
    const found = new Map<string, StoredMessage>()
    if (keyed.length === 0) return found
    const { rows } = await c.query<StoredMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages m
      JOIN unnest($1::text[], $2::text[]) AS k(sender, client_msg_id) ON m.sender = k.sender AND m.client_msg_id = k.client_msg_id`,
    [keyed.map((m) => m.from), keyed.map((m) => m.clientMsgId)])
    for (const row of rows) found.set(retryKey(row.from, row.clientMsgId as string), row)
    return found
  }

  /** Writes the batch's new messages (ids taken here), their stream entries, counters and conversations. */
  private async insert (c: Client, fresh: StoredMessage[], lastSeq: ReadonlyMap<string, number>): Promise<void> {
    const ids = await c.query<{ id: number }>('SELECT nextval(\'messages_id_seq\') AS id FROM generate_series(1, $1)', [fresh.length])
    const sorted = ids.rows.map((r) => r.id).sort((a, b) => a - b)
    fresh.forEach((m, i) => { m.id = sorted[i] as number })
    const column = <K extends keyof StoredMessage>(key: K): Array<StoredMessage[K]> => fresh.map((m) => m[key])
    // A message a block hides has no entry in the recipient's stream.
    const received = fresh.filter((m) => m.recipientSeq > 0)
    // One row per (user, peer): an upsert may not touch a row twice in one statement.
    const rows = conversationCounters(fresh)
    // Every write in one statement (one round trip): data-modifying CTEs all run, once.
    await c.query(`WITH inserted_messages AS (
        INSERT INTO messages (id, sender, recipient, content, created_at, client_msg_id, sender_seq, recipient_seq)
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::bigint[])
      ), inserted_entries AS (
        INSERT INTO stream (user_id, seq, message_id) SELECT * FROM unnest($9::text[], $10::bigint[], $11::bigint[])
      ), counters AS (
        UPDATE users u SET last_seq = v.seq FROM unnest($12::text[], $13::bigint[]) AS v(id, seq) WHERE u.id = v.id AND u.last_seq < v.seq
      )
      INSERT INTO conversations (user_id, peer, last_message_id, received)
      SELECT * FROM unnest($14::text[], $15::text[], $16::bigint[], $17::bigint[])
      ON CONFLICT (user_id, peer) DO UPDATE SET last_message_id = GREATEST(conversations.last_message_id, excluded.last_message_id),
        received = conversations.received + excluded.received`, [
      column('id'), column('from'), column('to'), column('content'), column('createdAt'), column('clientMsgId'), column('senderSeq'), column('recipientSeq'),
      [...column('from'), ...received.map((m) => m.to)], [...column('senderSeq'), ...received.map((m) => m.recipientSeq)], [...column('id'), ...received.map((m) => m.id)],
      [...lastSeq.keys()], [...lastSeq.values()],
      rows.map((r) => r.user), rows.map((r) => r.peer), rows.map((r) => r.lastMessageId), rows.map((r) => r.received)
    ])
  }

  /**
   * Inside the transaction of the change they report: the webhook events it causes. The caller
   * holds the rows of the drafts' users in `users` (FOR UPDATE or NO KEY UPDATE), so that two
   * writers never read the same tail. An unfinished predecessor is locked FOR SHARE: the sender
   * finishing it waits for this commit (and then releases the new event too), or this waits for
   * the sender's commit (and sees it finished).
   */
  private async writeEvents (c: Client, drafts: readonly EventDraft[]): Promise<void> {
    if (drafts.length === 0) return
    const users = [...new Set(drafts.flatMap((d) => d.users))]
    const tails = new Map((await c.query<{ userId: string, eventId: number }>('SELECT user_id AS "userId", event_id AS "eventId" FROM webhook_tails WHERE user_id = ANY($1)', [users]))
      .rows.map((r) => [r.userId, r.eventId]))
    const tailIds = [...new Set(tails.values())]
    const unreleased = tailIds.length === 0
      ? new Set<number>()
      : new Set((await c.query<{ id: number }>('SELECT id FROM webhook_events WHERE id = ANY($1) AND NOT released FOR SHARE', [tailIds])).rows.map((r) => r.id))
    const ids = (await c.query<{ id: number }>('SELECT nextval(\'webhook_events_id_seq\') AS id FROM generate_series(1, $1)', [drafts.length])).rows.map((r) => r.id).sort((a, b) => a - b)
    const { rows, tails: moved } = planEvents(drafts, ids, { tail: (u) => tails.get(u), unfinished: (list) => new Set(list.filter((id) => unreleased.has(id))) }, Date.now())
    const column = <K extends keyof (typeof rows)[number]>(key: K): Array<(typeof rows)[number][K]> => rows.map((r) => r[key])
    await c.query(`WITH inserted AS (
        INSERT INTO webhook_events (id, uid, type, data, created_at, message_id, after_a, after_b, waiting, next_attempt_at, undelivered_at)
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::int[], $10::bigint[], $13::bigint[])
      )
      INSERT INTO webhook_tails (user_id, event_id) SELECT * FROM unnest($11::text[], $12::bigint[])
      ON CONFLICT (user_id) DO UPDATE SET event_id = excluded.event_id`, [
      column('id'), column('uid'), column('type'), column('data'), column('createdAt'), column('messageId'), column('afterA'), column('afterB'), column('waiting'), column('dueAt'),
      [...moved.keys()], [...moved.values()], column('undeliveredAt')
    ])
  }

  async claimEvents (now: number, limit: number, leaseMs: number): Promise<ClaimedEvent[]> {
    // SKIP LOCKED: instances claiming at once take different events; the lease keeps them taken.
    const { rows } = await this.query<ClaimedEvent>(`UPDATE webhook_events SET claimed_at = $1, claimed_until = $2 WHERE id IN (
        SELECT id FROM webhook_events WHERE waiting = 0 AND next_attempt_at IS NOT NULL AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
        ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
      RETURNING id, uid, type, data, created_at AS "createdAt", message_id AS "messageId", attempts`, [now, now + leaseMs, limit])
    return rows.sort((a, b) => a.id - b.id)
  }

  async recordAttempts (attempts: readonly Attempt[]): Promise<void> {
    if (attempts.length === 0) return
    await this.tx(async (c) => {
      // In id order: two senders recording overlapping sets lock their rows in one order.
      for (const attempt of [...attempts].sort((a, b) => a.id - b.id)) await this.recordOne(c, attempt)
    })
  }

  private async recordOne (c: Client, { id, outcome: made }: Attempt): Promise<void> {
    const row = await this.one<{ released: boolean, retryAsked: number | null, type: string, messageId: number | null, data: string, undeliveredAt: number | null, acknowledged: boolean }>(`SELECT e.released,
        CASE WHEN e.retry_asked_at >= e.claimed_at THEN e.retry_asked_at END AS "retryAsked", e.type, e.message_id AS "messageId", e.data, e.undelivered_at AS "undeliveredAt",
        (m.id IS NULL OR m.deleted_at IS NOT NULL OR coalesce(u.acked_seq, 0) >= m.recipient_seq) AS acknowledged
      FROM webhook_events e LEFT JOIN messages m ON m.id = e.message_id LEFT JOIN users u ON u.id = m.recipient WHERE e.id = $1 FOR UPDATE OF e`, [id], c)
    if (row === undefined) return
    const outcome = withRetryAsked(made, row.retryAsked ?? undefined)
    switch (outcome.status) {
      case 'delivered':
        await c.query(`UPDATE webhook_events SET status = 'delivered', attempts = attempts + 1, last_attempt_at = $1, last_status = $2, last_error = NULL,
          next_attempt_at = NULL, claimed_until = NULL, finished_at = $1 WHERE id = $3`, [outcome.at, outcome.httpStatus, id])
        break
      case 'skipped':
        await c.query('UPDATE webhook_events SET status = \'skipped\', next_attempt_at = NULL, claimed_until = NULL, finished_at = $1 WHERE id = $2', [outcome.at, id])
        break
      case 'failed':
        await c.query(`UPDATE webhook_events SET status = 'failed', attempts = attempts + 1, last_attempt_at = $1, last_status = $2, last_error = $3,
          next_attempt_at = $4, claimed_until = NULL, finished_at = $5 WHERE id = $6`,
        [outcome.at, outcome.httpStatus, outcome.error, outcome.retryAt, outcome.retryAt === null ? outcome.at : null, id])
        break
    }
    const finished = outcome.status !== 'failed' || outcome.retryAt === null
    if (finished && !row.released) {
      await c.query('UPDATE webhook_events SET released = true WHERE id = $1', [id])
      await c.query('UPDATE webhook_events SET waiting = waiting - 1 WHERE after_a = $1 OR after_b = $1', [id])
      await this.writeEvents(c, followUpDrafts(row, () => row.acknowledged))
    }
  }

  async messageAcknowledged (messageId: number): Promise<boolean> {
    const row = await this.one<{ acknowledged: boolean }>(`SELECT m.deleted_at IS NOT NULL OR coalesce(u.acked_seq, 0) >= m.recipient_seq AS acknowledged
      FROM messages m LEFT JOIN users u ON u.id = m.recipient WHERE m.id = $1`, [messageId])
    return row?.acknowledged ?? true
  }

  async deliveries (query: { status?: DeliveryStatus | undefined, before?: number | undefined, limit: number }): Promise<Array<DeliveryRecord & { cursor: number }>> {
    const { rows } = await this.query<DeliveryRecord & { cursor: number }>(`SELECT id AS cursor, uid, type, created_at AS "createdAt", status, attempts,
        last_attempt_at AS "lastAttemptAt", last_status AS "lastStatus", last_error AS "lastError", next_attempt_at AS "nextAttemptAt"
      FROM webhook_events WHERE ($1::text IS NULL OR status = $1) AND id < $2 ORDER BY id DESC LIMIT $3`,
    [query.status ?? null, query.before ?? Number.MAX_SAFE_INTEGER, query.limit])
    return rows
  }

  async retryEvent (uid: string, now: number): Promise<RetryOutcome> {
    const event = await this.one<{ id: number, status: DeliveryStatus }>('SELECT id, status FROM webhook_events WHERE id = $1 AND uid = $2', [eventIdOf(uid), uid])
    if (event === undefined) return 'unknown'
    if (event.status === 'delivered' || event.status === 'skipped') return 'not_failed'
    await this.query('UPDATE webhook_events SET next_attempt_at = $1, retry_asked_at = $1 WHERE id = $2', [now, event.id])
    return 'scheduled'
  }

  async pruneEvents (deliveredBefore: number, failedBefore: number, limit: number): Promise<number> {
    const result = await this.query(`DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events WHERE next_attempt_at IS NULL
      AND finished_at < (CASE WHEN status = 'failed' THEN $1::bigint ELSE $2::bigint END) LIMIT $3)`, [failedBefore, deliveredBefore, limit])
    return result.rowCount ?? 0
  }

  async readStream (userId: string, after: number, limit: number): Promise<StreamEntry[]> {
    const { rows } = await this.query<StoredMessage & { entrySeq: number, entryKind: number }>(`SELECT s.seq AS "entrySeq", s.kind AS "entryKind", ${MESSAGE_COLUMNS}
      FROM stream s JOIN messages m ON m.id = s.message_id WHERE s.user_id = $1 AND s.seq > $2 ORDER BY s.seq LIMIT $3`, [userId, after, limit])
    return rows.map(toEntry)
  }

  async getMessage (id: number): Promise<StoredMessage | undefined> {
    return await this.one<StoredMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1`, [id])
  }

  /** Locks both users' rows first (as appends do, in id order) to take the next seqs. */
  async changeMessage (change: MessageChange): Promise<ChangeOutcome> {
    const found = await this.getMessage(change.id)
    if (found === undefined) return { status: 'not_found' }
    return await this.tx(async (c): Promise<ChangeOutcome> => {
      const locked = await c.query<{ id: string, lastSeq: number }>('SELECT id, last_seq AS "lastSeq" FROM users WHERE id = ANY($1) AND deleted_at IS NULL ORDER BY id FOR UPDATE', [[found.from, found.to].sort()])
      const lastSeq = new Map(locked.rows.map((r) => [r.id, r.lastSeq]))
      const before = await this.one<StoredMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1 FOR UPDATE`, [change.id], c)
      if (before === undefined) return { status: 'not_found' }
      if (before.deletedAt !== null) return { status: 'deleted' }
      const after = changed(before, change)
      if (change.kind === 'edited') {
        await c.query('UPDATE messages SET content = $1, edited_at = $2 WHERE id = $3', [change.content, change.at, change.id])
      } else {
        await c.query('UPDATE messages SET content = \'\', deleted_at = $1 WHERE id = $2', [change.at, change.id])
        await c.query(`UPDATE webhook_events SET data = jsonb_set(jsonb_set(data::jsonb, '{content}', '""'), '{deletedAt}', to_jsonb($1::text))::text
          WHERE message_id = $2`, [new Date(change.at).toISOString(), change.id])
      }
      const senderSeq = (lastSeq.get(after.from) ?? 0) + 1
      const recipientSeq = after.recipientSeq > 0 && lastSeq.has(after.to) ? (lastSeq.get(after.to) ?? 0) + 1 : 0
      const users = recipientSeq > 0 ? [after.from, after.to] : [after.from]
      const seqs = recipientSeq > 0 ? [senderSeq, recipientSeq] : [senderSeq]
      await c.query(`WITH entries AS (
          INSERT INTO stream (user_id, seq, message_id, kind) SELECT u, s, $3::bigint, $4::smallint FROM unnest($1::text[], $2::bigint[]) AS v(u, s)
        )
        UPDATE users u SET last_seq = v.s FROM unnest($1::text[], $2::bigint[]) AS v(id, s) WHERE u.id = v.id`, [users, seqs, after.id, entryKindCode(change.kind)])
      await this.writeEvents(c, changeDrafts(this.outbox, after, change.kind))
      return { status: 'changed', message: after, senderSeq, recipientSeq }
    })
  }

  async streamState (userId: string): Promise<StreamState> {
    return await this.one<StreamState>('SELECT last_seq AS "lastSeq", acked_seq AS "ackedSeq" FROM users WHERE id = $1', [userId]) ?? { lastSeq: 0, ackedSeq: 0 }
  }

  async ack (userId: string, upTo: number): Promise<number> {
    return (await this.one<{ acked: number }>('UPDATE users SET acked_seq = GREATEST(acked_seq, $1) WHERE id = $2 RETURNING acked_seq AS acked', [upTo, userId]))?.acked ?? 0
  }

  async conversation (userId: string, peer: string, query: HistoryQuery): Promise<StoredMessage[]> {
    const [lo, hi] = orderedPair(userId, peer)
    const { rows } = await this.query<StoredMessage>(`SELECT ${MESSAGE_COLUMNS} FROM messages m
      WHERE LEAST(m.sender, m.recipient) = $1 AND GREATEST(m.sender, m.recipient) = $2 AND m.id < $3 AND m.id > $4 AND (m.recipient_seq > 0 OR m.sender = $6)
      ORDER BY m.id DESC LIMIT $5`, [lo, hi, query.before ?? Number.MAX_SAFE_INTEGER, query.after ?? 0, query.limit, userId])
    return rows
  }

  async conversations (userId: string, query: { before?: number | undefined, limit: number }): Promise<ConversationSummary[]> {
    const { rows } = await this.query<Omit<ConversationSummary, 'lastMessage'> & StoredMessage>(`SELECT c.peer, c.received - c.read AS unread, c.read_up_to AS "readUpTo",
        coalesce(p.read_up_to, 0) AS "peerReadUpTo", coalesce(p.delivered_up_to, 0) AS "peerDeliveredUpTo", ${MESSAGE_COLUMNS}
      FROM conversations c LEFT JOIN conversations p ON p.user_id = c.peer AND p.peer = c.user_id
      JOIN messages m ON m.id = c.last_message_id
      WHERE c.user_id = $1 AND c.last_message_id < $2 AND c.last_message_id > 0 ORDER BY c.last_message_id DESC LIMIT $3`,
    [userId, query.before ?? Number.MAX_SAFE_INTEGER, query.limit])
    return rows.map(({ peer, unread, readUpTo, peerReadUpTo, peerDeliveredUpTo, ...m }) =>
      ({ peer, unread, readUpTo, peerReadUpTo, peerDeliveredUpTo, lastMessage: m }))
  }

  async hasConversation (a: string, b: string): Promise<boolean> {
    return await this.one('SELECT 1 FROM conversations WHERE user_id = $1 AND peer = $2 AND last_message_id > 0', [a, b]) !== undefined
  }

  async markRead (userId: string, peer: string, upTo: number): Promise<ReadOutcome> {
    const events = eventDrafts(this.outbox, 'message.read', { userId, peer, readUpTo: upTo }, [userId, peer])
    return await this.tx(async (c): Promise<ReadOutcome> => {
      // Before the conversation rows, as appends lock them: one lock order, no deadlock.
      if (events.length > 0) await c.query('SELECT 1 FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE', [[userId, peer]])
      const row = await this.one<{ newest: number, readUpTo: number }>(`SELECT last_message_id AS newest, read_up_to AS "readUpTo"
        FROM conversations WHERE user_id = $1 AND peer = $2 FOR UPDATE`, [userId, peer], c)
      const step = readStep(row?.newest ?? 0, row?.readUpTo ?? 0, upTo)
      if (step.status !== 'advance') return step
      const [lo, hi] = orderedPair(userId, peer)
      const counted = await this.one<{ n: number }>(`SELECT count(*)::int AS n FROM messages m
        WHERE LEAST(m.sender, m.recipient) = $1 AND GREATEST(m.sender, m.recipient) = $2 AND m.id > $3 AND m.id <= $4 AND m.sender = $5 AND m.recipient_seq > 0`,
      [lo, hi, step.from, upTo, peer], c)
      await c.query('UPDATE conversations SET read_up_to = $3, read = read + $4 WHERE user_id = $1 AND peer = $2', [userId, peer, upTo, counted?.n ?? 0])
      await this.writeEvents(c, events)
      return { status: 'advanced', readUpTo: upTo }
    })
  }

  async markDelivered (userId: string, afterSeq: number, upToSeq: number): Promise<Array<{ peer: string, upTo: number }>> {
    const { rows } = await this.query<{ peer: string, upTo: number }>(`WITH newest AS (
        SELECT m.sender AS peer, max(m.id) AS up_to FROM stream s JOIN messages m ON m.id = s.message_id
        WHERE s.user_id = $1 AND s.seq > $2 AND s.seq <= $3 AND s.kind = 0 AND m.recipient = $1 GROUP BY m.sender)
      UPDATE conversations c SET delivered_up_to = n.up_to FROM newest n
      WHERE c.user_id = $1 AND c.peer = n.peer AND c.delivered_up_to < n.up_to
      RETURNING c.peer, c.delivered_up_to AS "upTo"`, [userId, afterSeq, upToSeq])
    return rows
  }

  async block (blocker: string, blocked: string, at: number): Promise<void> {
    await this.query('INSERT INTO blocks (blocker, blocked, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [blocker, blocked, at])
  }

  async unblock (blocker: string, blocked: string): Promise<boolean> {
    return ((await this.query('DELETE FROM blocks WHERE blocker = $1 AND blocked = $2', [blocker, blocked])).rowCount ?? 0) === 1
  }

  async blocksOf (blocker: string): Promise<Array<{ userId: string, createdAt: number }>> {
    return (await this.query<{ userId: string, createdAt: number }>('SELECT blocked AS "userId", created_at AS "createdAt" FROM blocks WHERE blocker = $1 ORDER BY created_at DESC, blocked', [blocker])).rows
  }

  async blockedEitherWay (a: string, b: string): Promise<boolean> {
    return await this.one('SELECT 1 FROM blocks WHERE (blocker = $1 AND blocked = $2) OR (blocker = $2 AND blocked = $1)', [a, b]) !== undefined
  }

  async createSession (session: Omit<SessionRecord, 'revokedAt'>, refresh?: { hash: string, expiresAt: number }): Promise<void> {
    await this.tx(async (c) => {
      await c.query('INSERT INTO sessions (id, user_id, created_at) VALUES ($1, $2, $3)', [session.id, session.userId, session.createdAt])
      if (refresh !== undefined) await c.query('INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES ($1, $2, $3)', [refresh.hash, session.id, refresh.expiresAt])
    })
  }

  async rotateRefreshToken (hash: string, next: { hash: string, expiresAt: number }, now: number): Promise<RefreshOutcome> {
    return await this.tx(async (c): Promise<RefreshOutcome> => {
      const token = await this.one<RefreshTokenRow>(`SELECT session_id AS "sessionId", expires_at AS "expiresAt", used_at AS "usedAt"
        FROM refresh_tokens WHERE hash = $1 FOR UPDATE`, [hash], c)
      const session = token === undefined ? undefined : await this.one<SessionRecord>(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`, [token.sessionId], c)
      const step = refreshStep(token, session, now)
      switch (step.status) {
        case 'invalid': return step
        case 'reuse':
          await c.query('UPDATE sessions SET revoked_at = $1 WHERE id = $2', [now, step.session.id])
          return { status: 'reused', session: { ...step.session, revokedAt: now } }
        case 'rotate':
          await c.query('UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2', [now, hash])
          await c.query('INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES ($1, $2, $3)', [next.hash, step.session.id, next.expiresAt])
          return { status: 'rotated', session: step.session }
      }
    })
  }

  async revokeSession (id: string, at: number): Promise<SessionRecord | undefined> {
    return await this.one<SessionRecord>(`UPDATE sessions SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 RETURNING ${SESSION_COLUMNS}`, [at, id])
  }

  async revokeUserSessions (userId: string, at: number, except = ''): Promise<string[]> {
    const { rows } = await this.query<{ id: string }>('UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3 RETURNING id', [at, userId, except])
    return rows.map((r) => r.id)
  }

  async revokedSessions (since: number): Promise<string[]> {
    const { rows } = await this.query<{ id: string }>('SELECT id FROM sessions WHERE revoked_at >= $1', [since])
    return rows.map((r) => r.id)
  }

  /** Ready means a write commits: a read-only node (a standby after a failover) is not ready. */
  async ping (): Promise<void> {
    await this.query('INSERT INTO readiness (probe, at) VALUES ($1, $2) ON CONFLICT (probe) DO UPDATE SET at = excluded.at', ['ready', Date.now()])
  }

  async close (): Promise<void> {
    await this.pool.end()
  }
}
