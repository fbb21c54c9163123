import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { AppendOutcome, ChangeOutcome, ConversationSummary, MessageChange, StreamEntry, HistoryQuery, NewMessage, ReadOutcome, RefreshOutcome, SessionRecord, Store, StoredMessage, StreamState, UserRecord } from './store.js'
import { sqliteMigrations } from './migrations/sqlite.js'
import { changeDrafts, changed, entryKindCode, eventDrafts, messageCreatedDrafts, toEntry, orderedPair, planAppend, readStep, refreshStep, type AppendLookups, type RefreshTokenRow } from './rules.js'
import { eventIdOf, followUpDrafts, planEvents, withRetryAsked, type Attempt, type ClaimedEvent, type DeliveryRecord, type DeliveryStatus, type EventDraft, type OutboxSettings, type OutboxStore, type RetryOutcome } from './outbox.js'
import type { SqliteSynchronous } from '../config.js'
import { silentLog, type Log } from '../log.js'
import { Checkpointer } from './checkpointer.js'
import { COUNTERS, CONVERSATION_INDEX, RECIPIENT_STREAM, RETRY_KEY, SENDER_STREAM, Tail, UserWrites, type TailEntry } from './tail.js'

export interface SqliteStoreOptions {
  /** A directory (the file is duolog.db inside it) or ':memory:'. */
  dataDir: string
  /**
   * 'normal' (WAL, no fsync per commit): survives the process being killed, may lose
   * the last commits on power loss. 'full': fsync on every commit, survives power loss.
   */
  synchronous: SqliteSynchronous
  /**
   * Unindexed messages that trigger an index write (default 50,000). Larger runs write a
   * user's stream page and a pair's counters once for more messages: on a database of a
   * million messages at 10,000 messages/s, 10,000 (or 1 s) instead of 2,000 (or 200 ms) took
   * 0.71x the CPU per message, and 50,000 (or 5 s) instead of 10,000 0.85-0.89x (a fifth of
   * the WAL, so a fifth of the checkpoints and WAL restarts). Meanwhile the tail keeps their
   * ids, users and seqs (about 100 bytes a message, not their content).
   */
  indexBatch?: number
  /** Longest time a message stays unindexed, ms (default 5000). */
  indexDelayMs?: number
  /**
   * How long one slice of an index run may write before it commits and lets the event loop
   * turn, ms (default 4; its commit adds 1-2 ms on a large database).
   */
  indexSliceMs?: number
  /** At most this many rows per slice (default: no limit; tests cut runs finely with it). */
  indexSliceRows?: number
  /** Where a failed background index write is reported. */
  log?: Log
  /** The webhook events to write (none when undefined). */
  outbox?: OutboxSettings | undefined
  /**
   * WAL frames (pages) that make a worker thread checkpoint (default 10,000, or any after
   * 5 s); 0: no worker, SQLite's automatic checkpoints on the writer's connection, which
   * hold the event loop while they run.
   */
  checkpointPages?: number
  /** Told of the work the store does beside the sends (an operator's metrics). */
  observer?: SqliteObserver
}

/**
 * What the embedded store does beside appending sends, as an operator would watch it: the
 * background work that can still delay a send (an index slice holds the event loop, a WAL
 * restart holds the writes) and the checkpoints that keep the WAL from growing.
 */
export interface SqliteObserver {
  /** A checkpoint (in the worker thread) copied this many WAL frames (pages) into the database file. */
  checkpointed: (pages: number) => void
  /** Appends and index slices waited this long, in seconds, while a checkpoint started the WAL over. */
  writesHeld: (seconds: number) => void
  /** One slice of an index run (or a whole run, at start, close, or before a change) held the event loop this long, in seconds. */
  indexed: (seconds: number) => void
}

const NO_OBSERVER: SqliteObserver = { checkpointed: () => {}, writesHeld: () => {}, indexed: () => {} }

const MESSAGE_COLUMNS = `m.id, m.sender AS "from", m.recipient AS "to", m.content, m.created_at AS createdAt,
  m.client_msg_id AS clientMsgId, m.sender_seq AS senderSeq, m.recipient_seq AS recipientSeq, m.edited_at AS editedAt, m.deleted_at AS deletedAt`

/**
 * A run of the index writer: the tail's messages up to `upTo`, written one user at a time in
 * the users' order (every index is keyed by user first, so a slice touches one stretch of
 * each), a slice at a time. A user's writes are made when the run reaches the user: no
 * sorted copy of the whole batch is built first (that took 15-25 ms for 10,000 messages).
 */
interface IndexRun {
  /** The newest message of the batch: indexed_up_to once the run is complete. */
  upTo: number
  /** Every user with a message in the batch (tail user numbers), in their ids' order. */
  users: Int32Array
  /** Each user number's place in that order. */
  rank: Int32Array
  /** The next user whose writes are made. */
  nextUser: number
  /** The writes of the user the run is in (a slice may end inside a user), and how many are made. */
  writes: UserWrites
  done: number
  /** Whether some of these writes may have been made before (a run cut short): counters then read their watermark. */
  recount: boolean
}

/**
 * The embedded default store: one SQLite file, written by this process only.
 *
 * A send appends one row to the `messages` log (sequential pages: cheap). The indexes a
 * read needs (each user's stream, conversations, clientMsgIds) are written a little later
 * in sorted batches, which touches each index page once per batch instead of once per
 * message (about 3x less CPU per message, see docs/benchmarks.md). Until then the
 * messages are indexed in memory, and reads merge both. The log is the truth: on start,
 * whatever was not indexed before a crash is indexed from it.
 */
export class SqliteStore implements Store, OutboxStore {
  readonly kind = 'sqlite'
  readonly file: string
  private readonly db: Database.Database
  private readonly stmts
  private readonly appendTx: (batch: readonly NewMessage[]) => AppendOutcome[]
  /** Makes the run's next writes in one commit, until the time or row limit; true when the run is complete. */
  private readonly sliceTx: (run: IndexRun, deadline: number, rows: number) => boolean
  private readonly indexSliceMs: number
  private readonly indexSliceRows: number
  /** The index run in progress: its slices are written with a turn of the event loop between them. */
  private run: IndexRun | undefined
  /**
   * Whether the tail may hold messages a run already counted (after a start or a failure: the
   * tail was loaded from the file). Until a complete run clears it, counters read their
   * counted_up_to; after, a run is the first to write its messages, and skips that read.
   */
  private recount = true
  /**
   * Every message up to this id is in the index tables, and every later one in the tail. Reads
   * take from the index only what is at or below it: a run's first slices are invisible until
   * its last one commits this.
   */
  private indexedUpTo = 0
  private readonly recordTx: (attempts: readonly Attempt[]) => void
  private readonly tail = new Tail()
  private readonly indexBatch: number
  private readonly indexDelayMs: number
  private indexTimer: NodeJS.Timeout | undefined
  private readonly log: Log
  // This process is the file's only writer (it holds duolog.lock), so the newest seq of
  // each stream and the set of existing users can be remembered instead of queried per message.
  private readonly lastSeqs = new Map<string, number>()
  /** The database file as opened (undefined in memory). */
  private readonly identity: { ino: number, dev: number } | undefined
  private readonly knownUsers = new Set<string>()
  /** duolog.lock, held while the store is open (undefined in memory). */
  private readonly lock: Database.Database | undefined
  /** Checkpoints the WAL off the event loop (undefined in memory or when turned off). */
  readonly checkpointer: Checkpointer | undefined
  /** While set, appends and index slices wait for it (the checkpoint worker copies the WAL's last frames). */
  private writesHeld: Promise<void> | undefined
  private readonly outbox: OutboxSettings | undefined
  private readonly observer: SqliteObserver
  // Remembered for the webhook outbox (this process is the only writer): each user's newest
  // ordered event, and the next event id. Forgotten when a transaction that wrote them fails.
  private readonly eventTails = new Map<string, number>()
  private nextEventId: number | undefined

  constructor (options: SqliteStoreOptions) {
    this.indexBatch = options.indexBatch ?? 50_000
    this.indexDelayMs = options.indexDelayMs ?? 5000
    this.indexSliceMs = options.indexSliceMs ?? 4
    this.indexSliceRows = options.indexSliceRows ?? Infinity
    this.log = options.log ?? silentLog
    this.outbox = options.outbox
    this.observer = options.observer ?? NO_OBSERVER
    if (options.dataDir === ':memory:') {
      this.file = ':memory:'
    } else {
      mkdirSync(options.dataDir, { recursive: true })
      this.file = join(options.dataDir, 'duolog.db')
      refuseMissingDatabase(options.dataDir, this.file)
    }
    // One process per file: a second duolog on the same data directory fails at start
    // instead of writing behind this one's caches.
    this.lock = options.dataDir === ':memory:' ? undefined : holdDirectory(options.dataDir)
    try {
      this.db = retainForProcessLifetime(new Database(this.file))
      // (exec, not pragma(): see retainForProcessLifetime.)
      this.db.exec('PRAGMA journal_mode = WAL')
    } catch (err) {
      // e.g. not a database: the directory is not held for a store that never opened.
      this.lock?.close()
      throw err
    }
    this.db.exec(`PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
    // A page cache that holds the hot index pages.
    this.db.exec('PRAGMA cache_size = -65536')
    // After a checkpoint has copied all of it, the WAL starts over, and the commit that starts
    // it over cuts the file to this size: above what the WAL reaches between two restarts
    // under steady writes (190-230 MB at 18,000 msg/s), since cutting 120-160 MB held that
    // commit, and the event loop, for 40-50 ms. Only a WAL that outgrew it (checkpoints that
    // fell behind) is cut.
    this.db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`)
    migrate(this.db)
    const checkpointPages = options.checkpointPages ?? AUTOCHECKPOINT_PAGES
    if (this.file !== ':memory:' && checkpointPages > 0) {
      this.db.exec('PRAGMA wal_autocheckpoint = 0')
      this.checkpointer = Checkpointer.start({
        file: this.file,
        intervalMs: 100,
        pages: checkpointPages,
        restartFrames: checkpointPages * 4,
        maxAgeMs: 5000,
        log: this.log,
        onExit: () => { if (this.db.open) this.db.exec(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`) },
        onCheckpoint: this.observer.checkpointed,
        holdWrites: () => this.holdWrites()
      })
    } else {
      this.db.exec(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`)
    }
    this.identity = fileIdentity(this.file)
    if (options.dataDir !== ':memory:') {
      const marker = join(options.dataDir, MARKER)
      if (!existsSync(marker)) writeFileSync(marker, 'This directory holds a duolog database (duolog.db). duolog refuses to start here without it.\n')
    }

    const db = this.db
    this.stmts = {
      insertUser: db.prepare('INSERT INTO users (id, display_name, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
      getUser: db.prepare('SELECT id, display_name AS displayName, password_hash AS passwordHash, created_at AS createdAt, last_seen AS lastSeen FROM users WHERE id = ? AND deleted_at IS NULL'),
      userExists: db.prepare('SELECT 1 FROM users WHERE id = ? AND deleted_at IS NULL').pluck(),
      setDisplayName: db.prepare('UPDATE users SET display_name = ? WHERE id = ? AND deleted_at IS NULL'),
      setPasswordHash: db.prepare('UPDATE users SET password_hash = ? WHERE id = ? AND deleted_at IS NULL'),
      tombstone: db.prepare('UPDATE users SET display_name = \'\', password_hash = NULL, last_seen = NULL, deleted_at = ? WHERE id = ? AND deleted_at IS NULL'),
      eraseSent: db.prepare(`UPDATE messages SET content = '', client_msg_id = NULL, deleted_at = coalesce(deleted_at, ?)
        WHERE id IN (SELECT message_id FROM stream WHERE user_id = ? AND kind = 0) AND sender = ?`),
      scrubSentEvents: db.prepare(`UPDATE webhook_events SET data = json_set(data, '$.content', '', '$.deletedAt', ?)
        WHERE message_id IN (SELECT m.id FROM stream s JOIN messages m ON m.id = s.message_id WHERE s.user_id = ? AND s.kind = 0 AND m.sender = ?)`),
      deleteStream: db.prepare('DELETE FROM stream WHERE user_id = ?'),
      deleteConversations: db.prepare('DELETE FROM conversations WHERE user_id = ?'),
      deleteRetryKeys: db.prepare('DELETE FROM idempotency WHERE sender = ?'),
      deleteBlocksOf: db.prepare('DELETE FROM blocks WHERE blocker = ? OR blocked = ?'),
      deleteRefreshTokens: db.prepare('DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = ?)'),
      setLastSeen: db.prepare('UPDATE users SET last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?'),
      byClientMsgId: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM idempotency i JOIN messages m ON m.id = i.message_id
        WHERE i.sender = ? AND i.client_msg_id = ?`),
      lastSeq: db.prepare('SELECT coalesce(max(seq), 0) FROM stream WHERE user_id = ?').pluck(),
      insertMessage: db.prepare(`INSERT INTO messages (sender, recipient, content, created_at, client_msg_id, sender_seq, recipient_seq)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
      // OR IGNORE: a run cut short by a crash is made again from its start.
      insertEntry: db.prepare('INSERT OR IGNORE INTO stream (user_id, seq, message_id) VALUES (?, ?, ?)'),
      insertConversation: db.prepare('INSERT OR IGNORE INTO conversation_index (user_lo, user_hi, message_id) VALUES (?, ?, ?)'),
      insertIdempotency: db.prepare('INSERT OR IGNORE INTO idempotency (sender, client_msg_id, message_id) VALUES (?, ?, ?)'),
      indexedUpTo: db.prepare('SELECT value FROM meta WHERE key = \'indexed_up_to\'').pluck(),
      setIndexedUpTo: db.prepare('UPDATE meta SET value = ? WHERE key = \'indexed_up_to\''),
      // What the tail keeps (TailEntry): not the content, which reads take from the log.
      unindexed: db.prepare(`SELECT id, sender AS "from", recipient AS "to", sender_seq AS senderSeq, recipient_seq AS recipientSeq,
        client_msg_id AS clientMsgId FROM messages WHERE id > ? ORDER BY id`),
      readStream: db.prepare(`SELECT s.seq AS entrySeq, s.kind AS entryKind, ${MESSAGE_COLUMNS} FROM stream s JOIN messages m ON m.id = s.message_id
        WHERE s.user_id = ? AND s.seq > ? AND (s.kind > 0 OR s.message_id <= ?) ORDER BY s.seq LIMIT ?`),
      ackedSeq: db.prepare('SELECT acked_seq FROM users WHERE id = ?').pluck(),
      ack: db.prepare('UPDATE users SET acked_seq = max(acked_seq, ?) WHERE id = ? RETURNING acked_seq').pluck(),
      countedUpTo: db.prepare('SELECT counted_up_to FROM conversations WHERE user_id = ? AND peer = ?').pluck(),
      conversation: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM conversation_index c JOIN messages m ON m.id = c.message_id
        WHERE c.user_lo = ? AND c.user_hi = ? AND c.message_id < ? AND c.message_id > ? AND (m.recipient_seq > 0 OR m.sender = ?)
        ORDER BY c.message_id DESC LIMIT ?`),
      insertSession: db.prepare('INSERT INTO sessions (id, user_id, created_at) VALUES (?, ?, ?)'),
      getSession: db.prepare('SELECT id, user_id AS userId, created_at AS createdAt, revoked_at AS revokedAt FROM sessions WHERE id = ?'),
      revokeSession: db.prepare('UPDATE sessions SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?'),
      revokeUserSessions: db.prepare('UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id <> ? RETURNING id').pluck(),
      revokedSince: db.prepare('SELECT id FROM sessions WHERE revoked_at >= ?').pluck(),
      insertRefresh: db.prepare('INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES (?, ?, ?)'),
      getRefresh: db.prepare('SELECT session_id AS sessionId, expires_at AS expiresAt, used_at AS usedAt FROM refresh_tokens WHERE hash = ?'),
      useRefresh: db.prepare('UPDATE refresh_tokens SET used_at = ? WHERE hash = ?'),
      conversationRow: db.prepare(`SELECT last_message_id AS lastMessageId, received - read AS unread, read_up_to AS readUpTo, delivered_up_to AS deliveredUpTo,
          counted_up_to AS countedUpTo
        FROM conversations WHERE user_id = ? AND peer = ?`),
      upsertConversation: db.prepare(`INSERT INTO conversations (user_id, peer, last_message_id, received, counted_up_to) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (user_id, peer) DO UPDATE SET last_message_id = max(last_message_id, excluded.last_message_id), received = received + excluded.received,
          counted_up_to = max(counted_up_to, excluded.counted_up_to)`),
      setRead: db.prepare(`INSERT INTO conversations (user_id, peer, read_up_to, read) VALUES (?, ?, ?, ?)
        ON CONFLICT (user_id, peer) DO UPDATE SET read_up_to = excluded.read_up_to, read = read + excluded.read`),
      setDelivered: db.prepare(`INSERT INTO conversations (user_id, peer, delivered_up_to) VALUES (?, ?, ?)
        ON CONFLICT (user_id, peer) DO UPDATE SET delivered_up_to = max(delivered_up_to, excluded.delivered_up_to)`),
      countIncoming: db.prepare(`SELECT count(*) FROM conversation_index c JOIN messages m ON m.id = c.message_id
        WHERE c.user_lo = ? AND c.user_hi = ? AND c.message_id > ? AND c.message_id <= ? AND m.sender = ? AND m.recipient_seq > 0`).pluck(),
      deliveredByPeer: db.prepare(`SELECT m.sender AS peer, max(m.id) AS upTo FROM stream s JOIN messages m ON m.id = s.message_id
        WHERE s.user_id = ? AND s.seq > ? AND s.seq <= ? AND s.kind = 0 AND m.recipient = ? GROUP BY m.sender`),
      recentConversations: db.prepare(`SELECT c.peer, c.last_message_id AS lastMessageId, c.received - c.read AS unread, c.read_up_to AS readUpTo,
          coalesce(p.read_up_to, 0) AS peerReadUpTo, coalesce(p.delivered_up_to, 0) AS peerDeliveredUpTo
        FROM conversations c LEFT JOIN conversations p ON p.user_id = c.peer AND p.peer = c.user_id
        WHERE c.user_id = ? AND c.last_message_id < ? AND c.last_message_id > 0 ORDER BY c.last_message_id DESC LIMIT ?`),
      messageById: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?`),
      insertChangeEntry: db.prepare('INSERT INTO stream (user_id, seq, message_id, kind) VALUES (?, ?, ?, ?)'),
      editMessage: db.prepare('UPDATE messages SET content = ?, edited_at = ? WHERE id = ?'),
      deleteMessage: db.prepare('UPDATE messages SET content = \'\', deleted_at = ? WHERE id = ?'),
      scrubEvents: db.prepare('UPDATE webhook_events SET data = json_set(data, \'$.content\', \'\', \'$.deletedAt\', ?) WHERE message_id = ?'),
      blockExists: db.prepare('SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?').pluck(),
      eitherBlocks: db.prepare('SELECT 1 FROM blocks WHERE (blocker = ? AND blocked = ?) OR (blocker = ? AND blocked = ?)').pluck(),
      insertBlock: db.prepare('INSERT INTO blocks (blocker, blocked, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      deleteBlock: db.prepare('DELETE FROM blocks WHERE blocker = ? AND blocked = ?'),
      blocksOf: db.prepare('SELECT blocked AS userId, created_at AS createdAt FROM blocks WHERE blocker = ? ORDER BY created_at DESC, blocked'),
      lastEventId: db.prepare('SELECT coalesce(max(id), 0) FROM webhook_events').pluck(),
      eventTail: db.prepare('SELECT event_id FROM webhook_tails WHERE user_id = ?').pluck(),
      eventUnreleased: db.prepare('SELECT 1 FROM webhook_events WHERE id = ? AND released = 0').pluck(),
      insertEvent: db.prepare(`INSERT INTO webhook_events (id, uid, type, data, created_at, message_id, after_a, after_b, waiting, next_attempt_at, undelivered_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      finishedEvent: db.prepare('SELECT type, message_id AS messageId, data, undelivered_at AS undeliveredAt FROM webhook_events WHERE id = ?'),
      setEventTail: db.prepare('INSERT INTO webhook_tails (user_id, event_id) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET event_id = excluded.event_id'),
      dueEvents: db.prepare(`SELECT id, uid, type, data, created_at AS createdAt, message_id AS messageId, attempts FROM webhook_events
        WHERE waiting = 0 AND next_attempt_at IS NOT NULL AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
        ORDER BY next_attempt_at LIMIT ?`),
      claimEvent: db.prepare('UPDATE webhook_events SET claimed_at = ?, claimed_until = ? WHERE id = ?'),
      retryAsked: db.prepare('SELECT retry_asked_at FROM webhook_events WHERE id = ? AND retry_asked_at >= claimed_at').pluck(),
      releaseClaims: db.prepare('UPDATE webhook_events SET claimed_until = NULL WHERE claimed_until IS NOT NULL'),
      eventDelivered: db.prepare(`UPDATE webhook_events SET status = 'delivered', attempts = attempts + 1, last_attempt_at = ?, last_status = ?, last_error = NULL,
        next_attempt_at = NULL, claimed_until = NULL, finished_at = ? WHERE id = ?`),
      eventSkipped: db.prepare('UPDATE webhook_events SET status = \'skipped\', next_attempt_at = NULL, claimed_until = NULL, finished_at = ? WHERE id = ?'),
      eventFailed: db.prepare(`UPDATE webhook_events SET status = 'failed', attempts = attempts + 1, last_attempt_at = ?, last_status = ?, last_error = ?,
        next_attempt_at = ?, claimed_until = NULL, finished_at = ? WHERE id = ?`),
      releaseEvent: db.prepare('UPDATE webhook_events SET released = 1 WHERE id = ? AND released = 0'),
      releaseFollowers: db.prepare('UPDATE webhook_events SET waiting = waiting - 1 WHERE after_a = ? OR after_b = ?'),
      messageAcknowledged: db.prepare(`SELECT m.deleted_at IS NOT NULL OR coalesce(u.acked_seq, 0) >= m.recipient_seq FROM messages m LEFT JOIN users u ON u.id = m.recipient
        WHERE m.id = ?`).pluck(),
      // Newest first, by id (the outbox is kept short): the status is a filter, as in PostgreSQL.
      deliveries: db.prepare(`SELECT id AS cursor, uid, type, created_at AS createdAt, status, attempts, last_attempt_at AS lastAttemptAt,
        last_status AS lastStatus, last_error AS lastError, next_attempt_at AS nextAttemptAt FROM webhook_events
        WHERE (? IS NULL OR status = ?) AND id < ? ORDER BY id DESC LIMIT ?`),
      eventByUid: db.prepare('SELECT id, status FROM webhook_events WHERE id = ? AND uid = ?'),
      scheduleEvent: db.prepare('UPDATE webhook_events SET next_attempt_at = ?, retry_asked_at = ? WHERE id = ?'),
      pruneEvents: db.prepare(`DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events WHERE next_attempt_at IS NULL
        AND finished_at < (CASE WHEN status = 'failed' THEN ? ELSE ? END) LIMIT ?)`),
      probe: db.prepare('INSERT INTO meta (key, value) VALUES (\'ready_probe\', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
    }
    retainForProcessLifetime(this.stmts)
    this.appendTx = db.transaction((batch: readonly NewMessage[]) => this.append(batch))
    this.sliceTx = db.transaction((run: IndexRun, deadline: number, rows: number) => {
      const writes = run.writes
      for (let written = 0; written < rows; written++) {
        while (run.done === writes.length && run.nextUser < run.users.length) {
          this.tail.writesOf(run.users[run.nextUser++] as number, run.upTo, run.rank, writes)
          run.done = 0
        }
        if (run.done === writes.length) break
        this.indexWrite(writes, run.done++, run.recount)
        // performance.now() costs about as much as a row: looked at every 8th.
        if ((written & 7) === 7 && performance.now() >= deadline) break
      }
      const complete = run.nextUser === run.users.length && run.done === writes.length
      if (complete) this.stmts.setIndexedUpTo.run(run.upTo)
      return complete
    })
    this.recordTx = db.transaction((attempts: readonly Attempt[]) => { for (const attempt of attempts) this.recordOne(attempt) })
    // One process per file: claims of a process that died are void.
    this.stmts.releaseClaims.run()

    // Whatever a previous process stored but did not index (a crash, perhaps in the middle of
    // a run) is indexed now: every write of a run can be made twice.
    this.loadTail()
    this.indexNow()
  }

  private readonly lookups: AppendLookups = {
    earlier: (key, sender, clientMsgId) => {
      const pending = this.tail.sentWith(key)
      return (pending === undefined ? this.stmts.byClientMsgId.get(sender, clientMsgId) : this.stmts.messageById.get(pending.id)) as StoredMessage | undefined
    },
    userExists: (userId) => this.userExists(userId),
    blocks: (recipient, sender) => this.stmts.blockExists.get(recipient, sender) !== undefined,
    lastSeq: (userId) => this.lastSeq(userId)
  }

  /** Inside the batch's transaction: decide, then append each new message to the log. */
  private append (batch: readonly NewMessage[]): AppendOutcome[] {
    const plan = planAppend(batch, this.lookups)
    for (const m of plan.fresh) {
      m.id = Number(this.stmts.insertMessage.run(m.from, m.to, m.content, m.createdAt, m.clientMsgId, m.senderSeq, m.recipientSeq).lastInsertRowid)
      this.tail.add(m)
    }
    for (const [userId, seq] of plan.lastSeqs) this.lastSeqs.set(userId, seq)
    this.writeEvents(messageCreatedDrafts(this.outbox, plan.fresh))
    return plan.outcomes
  }

  /** Inside the transaction of the change they report: the webhook events it causes. */
  private writeEvents (drafts: readonly EventDraft[]): void {
    if (drafts.length === 0) return
    const s = this.stmts
    const first = this.nextEventId ?? (s.lastEventId.get() as number) + 1
    const { rows, tails } = planEvents(drafts, drafts.map((_, i) => first + i), {
      tail: (userId) => this.eventTail(userId),
      unfinished: (ids) => new Set(ids.filter((id) => s.eventUnreleased.get(id) !== undefined))
    }, Date.now())
    for (const r of rows) s.insertEvent.run(r.id, r.uid, r.type, r.data, r.createdAt, r.messageId, r.afterA, r.afterB, r.waiting, r.dueAt, r.undeliveredAt)
    for (const [userId, id] of tails) {
      s.setEventTail.run(userId, id)
      this.eventTails.set(userId, id)
    }
    this.nextEventId = first + rows.length
  }

  private eventTail (userId: string): number | undefined {
    let tail = this.eventTails.get(userId)
    if (tail === undefined) {
      tail = this.stmts.eventTail.get(userId) as number | undefined
      if (tail !== undefined) this.eventTails.set(userId, tail)
    }
    return tail
  }

  /** After a failed transaction: what is remembered of the outbox may not be in the file. */
  private forgetEvents (): void {
    this.eventTails.clear()
    this.nextEventId = undefined
  }

  /**
   * Starts the run that indexes the tail's messages up to the newest one now, in slices, each
   * committed on its own; the last also moves indexed_up_to. Reads never see a part of a run:
   * they take from the index tables only what is at or below indexed_up_to (the rest is still
   * in the tail). Every write can be made twice (a run cut short by a crash is made again from
   * indexed_up_to on the next start): inserts are ignored when the row is there, and a
   * conversation's counters count only messages above its counted_up_to.
   */
  private planIndexRun (): IndexRun | undefined {
    const last = this.tail.last()
    if (last === undefined) return undefined
    const { users, rank } = this.tail.runOrder()
    return { upTo: last.id, users, rank, nextUser: 0, writes: new UserWrites(), done: 0, recount: this.recount }
  }

  /** Makes row i of a user's writes (see Tail.writesOf). */
  private indexWrite (writes: UserWrites, i: number, recount: boolean): void {
    const s = this.stmts
    const t = this.tail
    const slot = writes.slot(i)
    switch (writes.kind(i)) {
      case COUNTERS: this.countInto(writes, slot, writes.end(i), recount); break
      case SENDER_STREAM: s.insertEntry.run(t.userId(t.sender(slot)), t.senderSeq(slot), t.id(slot)); break
      case RECIPIENT_STREAM: s.insertEntry.run(t.userId(t.recipient(slot)), t.recipientSeq(slot), t.id(slot)); break
      case CONVERSATION_INDEX: {
        const from = t.userId(t.sender(slot))
        const to = t.userId(t.recipient(slot))
        // orderedPair's order, without the array it makes for every message.
        s.insertConversation.run(from < to ? from : to, from < to ? to : from, t.id(slot))
        break
      }
      case RETRY_KEY: s.insertIdempotency.run(t.userId(t.sender(slot)), t.clientMsgId(slot), t.id(slot)); break
    }
  }

  /**
   * Adds to the user's counters for a peer its messages writes.byPeer[start] up to [end] that
   * are above the counters' counted_up_to (so that doing it twice counts once).
   */
  private countInto (writes: UserWrites, start: number, end: number, recount: boolean): void {
    const t = this.tail
    const user = t.userId(writes.user)
    const peer = t.userId(t.peerOf(writes.user, writes.byPeer[start] as number))
    const counted = recount ? (this.stmts.countedUpTo.get(user, peer) as number | undefined) ?? 0 : 0
    let received = 0
    let newest = 0
    for (let i = start; i < end; i++) {
      const slot = writes.byPeer[i] as number
      const id = t.id(slot)
      if (id <= counted) continue
      if (t.recipient(slot) === writes.user) received++
      newest = Math.max(newest, id)
    }
    if (newest > 0) this.stmts.upsertConversation.run(user, peer, newest, received, newest)
  }

  /**
   * Commits the next slice of the run (until `ms` have passed or `rows` are written); true when
   * the run is complete (indexed_up_to moved, the tail trimmed). A slice that fails rolls back
   * and the run is dropped (its cursor moved past writes that did not commit).
   */
  private indexSlice (run: IndexRun, ms: number, rows: number): boolean {
    const started = performance.now()
    let complete
    try {
      complete = this.sliceTx(run, started + ms, rows)
    } finally {
      this.observer.indexed((performance.now() - started) / 1000)
    }
    if (complete) {
      this.indexedUpTo = run.upTo
      this.tail.dropUpTo(run.upTo)
      // Every message a run cut short may have counted is at or below indexed_up_to now.
      if (run.recount) this.recount = false
    }
    return complete
  }

  /** Indexes the whole tail now, in this turn (at start, on close, and before a change writes stream entries directly). */
  private indexNow (): void {
    const run = this.run
    this.run = undefined
    if (run !== undefined) this.indexSlice(run, Infinity, Infinity)
    const rest = this.planIndexRun()
    if (rest !== undefined) this.indexSlice(rest, Infinity, Infinity)
  }

  private row (user: string, peer: string): { lastMessageId: number, unread: number, readUpTo: number, deliveredUpTo: number, countedUpTo: number } {
    return (this.stmts.conversationRow.get(user, peer) as ReturnType<SqliteStore['row']> | undefined) ??
      { lastMessageId: 0, unread: 0, readUpTo: 0, deliveredUpTo: 0, countedUpTo: 0 }
  }

  /** Rebuilds the in-memory tail from the log: everything after indexed_up_to. */
  private loadTail (): void {
    this.tail.clear()
    const from = this.stmts.indexedUpTo.get() as number
    this.indexedUpTo = from
    this.recount = true
    // all(), not iterate(): an iterator is a native object that must not be collected (retainForProcessLifetime).
    for (const m of this.stmts.unindexed.all(from) as TailEntry[]) this.tail.add(m)
  }

  private scheduleIndex (): void {
    // A run in progress looks again when it is done.
    if (this.run !== undefined) return
    if (this.tail.length >= this.indexBatch) {
      this.startIndexRun()
    } else if (this.indexTimer === undefined && this.tail.length > 0) {
      this.indexTimer = setTimeout(() => { this.startIndexRun() }, this.indexDelayMs)
      this.indexTimer.unref()
    }
  }

  private startIndexRun (): void {
    clearTimeout(this.indexTimer)
    this.indexTimer = undefined
    if (!this.db.open || this.run !== undefined) return
    if (this.writesHeld !== undefined) {
      void this.writesHeld.then(() => { this.scheduleIndex() })
      return
    }
    this.run = this.planIndexRun()
    if (this.run !== undefined) this.continueIndexRun(this.run)
  }

  /** One slice now, the next after a turn of the event loop: no slice holds it for long. */
  private continueIndexRun (run: IndexRun): void {
    if (this.run !== run || !this.db.open) return
    if (this.writesHeld !== undefined) {
      void this.writesHeld.then(() => { this.continueIndexRun(run) })
      return
    }
    try {
      if (this.indexSlice(run, this.indexSliceMs, this.indexSliceRows)) {
        this.run = undefined
        this.scheduleIndex()
        return
      }
    } catch (err) {
      // Rolled back: the log still holds every message; index them on the next try (the slices
      // that committed are made again, at no cost).
      this.run = undefined
      this.log.error({ err, unindexed: this.tail.length }, 'writing the message index failed; retrying')
      this.loadTail()
      this.scheduleIndex()
      return
    }
    setImmediate(() => { this.continueIndexRun(run) })
  }

  /** Writes the whole tail into the index tables now, in this turn. */
  flushIndex (): void {
    clearTimeout(this.indexTimer)
    this.indexTimer = undefined
    if (!this.db.open) return
    try {
      this.indexNow()
    } catch (err) {
      this.log.error({ err, unindexed: this.tail.length }, 'writing the message index failed; retrying')
      this.loadTail()
      this.scheduleIndex()
    }
  }

  /** Messages stored but not in the index tables yet (the tail): what the next index run writes. */
  get unindexed (): number {
    return this.tail.length
  }

  /** Holds appends and index slices until the returned function is called (see Checkpointer). */
  private holdWrites (): () => void {
    let release = (): void => {}
    const held = new Promise<void>((resolve) => { release = resolve })
    const started = performance.now()
    this.writesHeld = held
    return () => {
      if (this.writesHeld === held) this.writesHeld = undefined
      this.observer.writesHeld((performance.now() - started) / 1000)
      release()
    }
  }

  private lastSeq (userId: string): number {
    let seq = this.lastSeqs.get(userId)
    if (seq === undefined) {
      const newest = this.tail.newestOf(userId)
      seq = newest === undefined ? this.stmts.lastSeq.get(userId) as number : newest.from === userId ? newest.senderSeq : newest.recipientSeq
      this.lastSeqs.set(userId, seq)
    }
    return seq
  }

  private userExists (userId: string): boolean {
    if (this.knownUsers.has(userId)) return true
    if (this.stmts.userExists.get(userId) === undefined) return false
    this.knownUsers.add(userId)
    return true
  }

  async createUser (user: Omit<UserRecord, 'lastSeen'>): Promise<boolean> {
    return this.stmts.insertUser.run(user.id, user.displayName, user.passwordHash, user.createdAt).changes === 1
  }

  async getUser (id: string): Promise<UserRecord | undefined> {
    return this.stmts.getUser.get(id) as UserRecord | undefined
  }

  async updateUser (id: string, changes: { displayName?: string | undefined, passwordHash?: string | undefined }): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.stmts.userExists.get(id) === undefined) return false
      if (changes.displayName !== undefined) this.stmts.setDisplayName.run(changes.displayName, id)
      if (changes.passwordHash !== undefined) this.stmts.setPasswordHash.run(changes.passwordHash, id)
      return true
    })()
  }

  async deleteUser (id: string, at: number): Promise<boolean> {
    const s = this.stmts
    try {
      return this.db.transaction(() => {
        if (s.userExists.get(id) === undefined) return false
        // The tail's messages are not in the index tables yet: index them first, so that the deletes below find them.
        this.indexNow()
        const deletedAt = new Date(at).toISOString()
        s.scrubSentEvents.run(deletedAt, id, id)
        s.eraseSent.run(at, id, id)
        s.deleteStream.run(id)
        s.deleteConversations.run(id)
        s.deleteRetryKeys.run(id)
        s.deleteBlocksOf.run(id, id)
        s.deleteRefreshTokens.run(id)
        s.revokeUserSessions.run(at, id, '')
        s.tombstone.run(at, id)
        this.writeEvents(eventDrafts(this.outbox, 'user.deleted', { id, deletedAt }, [id]))
        return true
      })()
    } catch (err) {
      // Rolled back: the tail and remembered seqs may hold what is not in the file.
      this.lastSeqs.clear()
      this.forgetEvents()
      this.loadTail()
      throw err
    } finally {
      this.knownUsers.delete(id)
      this.lastSeqs.delete(id)
    }
  }

  async lastSeen (ids: readonly string[]): Promise<Map<string, number | null>> {
    const found = new Map<string, number | null>()
    for (const id of ids) {
      const user = this.stmts.getUser.get(id) as UserRecord | undefined
      if (user !== undefined) found.set(id, user.lastSeen)
    }
    return found
  }

  async setLastSeen (id: string, at: number): Promise<void> {
    this.stmts.setLastSeen.run(at, id)
  }

  async appendMessages (batch: readonly NewMessage[]): Promise<AppendOutcome[]> {
    while (this.writesHeld !== undefined) await this.writesHeld
    let outcomes: AppendOutcome[]
    try {
      outcomes = this.appendTx(batch)
    } catch (err) {
      // Rolled back: the remembered seqs and the tail may hold what is not in the file.
      this.lastSeqs.clear()
      this.forgetEvents()
      this.loadTail()
      throw err
    }
    this.scheduleIndex()
    return outcomes
  }

  async readStream (userId: string, after: number, limit: number): Promise<StreamEntry[]> {
    const entries = (this.stmts.readStream.all(userId, after, this.indexedUpTo, limit) as Array<StoredMessage & { entrySeq: number, entryKind: number }>).map(toEntry)
    if (entries.length === limit) return entries
    // Unindexed entries (messages only: a change indexes the tail first) come after the indexed ones.
    for (const m of this.tail.ofUser(userId)) {
      if (entries.length === limit) break
      const seq = m.to === userId ? m.recipientSeq : m.senderSeq
      if (seq > after) entries.push({ seq, kind: 'message', message: this.stmts.messageById.get(m.id) as StoredMessage })
    }
    return entries
  }

  async getMessage (id: number): Promise<StoredMessage | undefined> {
    return this.stmts.messageById.get(id) as StoredMessage | undefined
  }

  async changeMessage (change: MessageChange): Promise<ChangeOutcome> {
    const s = this.stmts
    try {
      return this.db.transaction((): ChangeOutcome => {
        // Change entries go straight into the stream table, after every message entry: index the tail first.
        this.indexNow()
        const before = s.messageById.get(change.id) as StoredMessage | undefined
        if (before === undefined) return { status: 'not_found' }
        if (before.deletedAt !== null) return { status: 'deleted' }
        const after = changed(before, change)
        if (change.kind === 'edited') {
          s.editMessage.run(change.content, change.at, change.id)
        } else {
          s.deleteMessage.run(change.at, change.id)
          s.scrubEvents.run(new Date(change.at).toISOString(), change.id)
        }
        const kind = entryKindCode(change.kind)
        const senderSeq = this.lastSeq(after.from) + 1
        s.insertChangeEntry.run(after.from, senderSeq, after.id, kind)
        this.lastSeqs.set(after.from, senderSeq)
        let recipientSeq = 0
        if (after.recipientSeq > 0) {
          recipientSeq = this.lastSeq(after.to) + 1
          s.insertChangeEntry.run(after.to, recipientSeq, after.id, kind)
          this.lastSeqs.set(after.to, recipientSeq)
        }
        this.writeEvents(changeDrafts(this.outbox, after, change.kind))
        return { status: 'changed', message: after, senderSeq, recipientSeq }
      })()
    } catch (err) {
      this.lastSeqs.clear()
      this.forgetEvents()
      this.loadTail()
      throw err
    }
  }

  async streamState (userId: string): Promise<StreamState> {
    const lastSeq = this.lastSeq(userId)
    const ackedSeq = (this.stmts.ackedSeq.get(userId) as number | undefined) ?? 0
    return { lastSeq, ackedSeq }
  }

  async ack (userId: string, upTo: number): Promise<number> {
    return (this.stmts.ack.get(upTo, userId) as number | undefined) ?? 0
  }

  async conversation (userId: string, peer: string, query: HistoryQuery): Promise<StoredMessage[]> {
    const before = query.before ?? Number.MAX_SAFE_INTEGER
    const after = query.after ?? 0
    // Newest first: the unindexed (newest) messages, then the index.
    const page: StoredMessage[] = []
    const pending = this.tail.visibleBetween(userId, peer)
    for (let i = pending.length - 1; i >= 0 && page.length < query.limit; i--) {
      const m = pending[i] as TailEntry
      if (m.id < before && m.id > after) page.push(this.stmts.messageById.get(m.id) as StoredMessage)
    }
    if (page.length === query.limit) return page
    const [lo, hi] = orderedPair(userId, peer)
    // Only what a complete run wrote: newer messages are in the tail (above).
    const rows = this.stmts.conversation.all(lo, hi, Math.min(before, this.indexedUpTo + 1), after, userId, query.limit - page.length) as StoredMessage[]
    return page.concat(rows)
  }

  async conversations (userId: string, query: { before?: number | undefined, limit: number }): Promise<ConversationSummary[]> {
    const before = query.before ?? Number.MAX_SAFE_INTEGER
    // Conversations with unindexed messages: their newest message is in the tail.
    const pending = new Map<string, { last: TailEntry, incoming: number[] }>()
    for (const m of this.tail.ofUser(userId)) {
      const peer = m.from === userId ? m.to : m.from
      let entry = pending.get(peer)
      if (entry === undefined) pending.set(peer, entry = { last: m, incoming: [] })
      entry.last = m
      if (m.to === userId) entry.incoming.push(m.id)
    }
    const summaries: ConversationSummary[] = []
    for (const [peer, { last, incoming }] of pending) {
      if (last.id >= before) continue
      const mine = this.row(userId, peer)
      const theirs = this.row(peer, userId)
      summaries.push({
        peer,
        lastMessage: this.stmts.messageById.get(last.id) as StoredMessage,
        // `read` may already count unindexed messages; `received` counts them once their counters are written (counted_up_to).
        unread: mine.unread + incoming.filter((id) => id > mine.countedUpTo).length,
        readUpTo: mine.readUpTo,
        peerReadUpTo: theirs.readUpTo,
        peerDeliveredUpTo: theirs.deliveredUpTo
      })
    }
    type Row = Omit<ConversationSummary, 'lastMessage'> & { lastMessageId: number }
    const rows = this.stmts.recentConversations.all(userId, before, query.limit + pending.size) as Row[]
    for (const row of rows) {
      if (pending.has(row.peer)) continue
      const { lastMessageId, ...rest } = row
      summaries.push({ ...rest, lastMessage: this.stmts.messageById.get(lastMessageId) as StoredMessage })
    }
    summaries.sort((a, b) => b.lastMessage.id - a.lastMessage.id)
    return summaries.slice(0, query.limit)
  }

  async hasConversation (a: string, b: string): Promise<boolean> {
    return this.row(a, b).lastMessageId > 0 || this.tail.visibleBetween(a, b).length > 0
  }

  async block (blocker: string, blocked: string, at: number): Promise<void> {
    this.stmts.insertBlock.run(blocker, blocked, at)
  }

  async unblock (blocker: string, blocked: string): Promise<boolean> {
    return this.stmts.deleteBlock.run(blocker, blocked).changes === 1
  }

  async blocksOf (blocker: string): Promise<Array<{ userId: string, createdAt: number }>> {
    return this.stmts.blocksOf.all(blocker) as Array<{ userId: string, createdAt: number }>
  }

  async blockedEitherWay (a: string, b: string): Promise<boolean> {
    return this.stmts.eitherBlocks.get(a, b, b, a) !== undefined
  }

  async markRead (userId: string, peer: string, upTo: number): Promise<ReadOutcome> {
    try {
      return this.markReadTx(userId, peer, upTo)
    } catch (err) {
      this.forgetEvents()
      throw err
    }
  }

  private markReadTx (userId: string, peer: string, upTo: number): ReadOutcome {
    return this.db.transaction((): ReadOutcome => {
      const mine = this.row(userId, peer)
      const pending = this.tail.visibleBetween(userId, peer)
      const newestPending = pending.at(-1)?.id ?? 0
      const step = readStep(Math.max(mine.lastMessageId, newestPending), mine.readUpTo, upTo)
      if (step.status !== 'advance') return step
      // Count the peer's messages the marker passes over, indexed and not yet indexed.
      const [lo, hi] = orderedPair(userId, peer)
      let nowRead = this.stmts.countIncoming.get(lo, hi, step.from, Math.min(upTo, this.indexedUpTo), peer) as number
      for (const m of pending) if (m.from === peer && m.id > step.from && m.id <= upTo) nowRead++
      this.stmts.setRead.run(userId, peer, upTo, nowRead)
      this.writeEvents(eventDrafts(this.outbox, 'message.read', { userId, peer, readUpTo: upTo }, [userId, peer]))
      return { status: 'advanced', readUpTo: upTo }
    })()
  }

  async markDelivered (userId: string, afterSeq: number, upToSeq: number): Promise<Array<{ peer: string, upTo: number }>> {
    const newest = new Map<string, number>()
    for (const row of this.stmts.deliveredByPeer.all(userId, afterSeq, upToSeq, userId) as Array<{ peer: string, upTo: number }>) newest.set(row.peer, row.upTo)
    for (const m of this.tail.ofUser(userId)) {
      if (m.to === userId && m.recipientSeq > afterSeq && m.recipientSeq <= upToSeq) newest.set(m.from, Math.max(newest.get(m.from) ?? 0, m.id))
    }
    const moved: Array<{ peer: string, upTo: number }> = []
    this.db.transaction(() => {
      for (const [peer, upTo] of newest) {
        if (upTo <= this.row(userId, peer).deliveredUpTo) continue
        this.stmts.setDelivered.run(userId, peer, upTo)
        moved.push({ peer, upTo })
      }
    })()
    return moved
  }

  async createSession (session: Omit<SessionRecord, 'revokedAt'>, refresh?: { hash: string, expiresAt: number }): Promise<void> {
    this.db.transaction(() => {
      this.stmts.insertSession.run(session.id, session.userId, session.createdAt)
      if (refresh !== undefined) this.stmts.insertRefresh.run(refresh.hash, session.id, refresh.expiresAt)
    })()
  }

  async rotateRefreshToken (hash: string, next: { hash: string, expiresAt: number }, now: number): Promise<RefreshOutcome> {
    const s = this.stmts
    return this.db.transaction((): RefreshOutcome => {
      const token = s.getRefresh.get(hash) as RefreshTokenRow | undefined
      const step = refreshStep(token, token === undefined ? undefined : s.getSession.get(token.sessionId) as SessionRecord | undefined, now)
      switch (step.status) {
        case 'invalid': return step
        case 'reuse':
          s.revokeSession.run(now, step.session.id)
          return { status: 'reused', session: { ...step.session, revokedAt: now } }
        case 'rotate':
          s.useRefresh.run(now, hash)
          s.insertRefresh.run(next.hash, step.session.id, next.expiresAt)
          return { status: 'rotated', session: step.session }
      }
    })()
  }

  async revokeSession (id: string, at: number): Promise<SessionRecord | undefined> {
    this.stmts.revokeSession.run(at, id)
    return this.stmts.getSession.get(id) as SessionRecord | undefined
  }

  async revokeUserSessions (userId: string, at: number, except = ''): Promise<string[]> {
    return this.stmts.revokeUserSessions.all(at, userId, except) as string[]
  }

  async revokedSessions (since: number): Promise<string[]> {
    return this.stmts.revokedSince.all(since) as string[]
  }

  async claimEvents (now: number, limit: number, leaseMs: number): Promise<ClaimedEvent[]> {
    return this.db.transaction(() => {
      const due = this.stmts.dueEvents.all(now, now, limit) as ClaimedEvent[]
      for (const e of due) this.stmts.claimEvent.run(now, now + leaseMs, e.id)
      return due
    })()
  }

  async recordAttempts (attempts: readonly Attempt[]): Promise<void> {
    this.recordTx(attempts)
  }

  private recordOne ({ id, outcome: made }: Attempt): void {
    const s = this.stmts
    const outcome = withRetryAsked(made, s.retryAsked.get(id) as number | undefined)
    switch (outcome.status) {
      case 'delivered': s.eventDelivered.run(outcome.at, outcome.httpStatus, outcome.at, id); break
      case 'skipped': s.eventSkipped.run(outcome.at, id); break
      case 'failed': s.eventFailed.run(outcome.at, outcome.httpStatus, outcome.error, outcome.retryAt, outcome.retryAt === null ? outcome.at : null, id); break
    }
    const finished = outcome.status !== 'failed' || outcome.retryAt === null
    if (finished && s.releaseEvent.run(id).changes === 1) {
      s.releaseFollowers.run(id, id)
      this.writeEvents(followUpDrafts(s.finishedEvent.get(id) as Parameters<typeof followUpDrafts>[0], (messageId) => this.acknowledged(messageId)))
    }
  }

  async messageAcknowledged (messageId: number): Promise<boolean> {
    return this.acknowledged(messageId)
  }

  private acknowledged (messageId: number): boolean {
    return (this.stmts.messageAcknowledged.get(messageId) ?? 1) === 1
  }

  async deliveries (query: { status?: DeliveryStatus | undefined, before?: number | undefined, limit: number }): Promise<Array<DeliveryRecord & { cursor: number }>> {
    const before = query.before ?? Number.MAX_SAFE_INTEGER
    return this.stmts.deliveries.all(query.status ?? null, query.status ?? null, before, query.limit) as Array<DeliveryRecord & { cursor: number }>
  }

  async retryEvent (uid: string, now: number): Promise<RetryOutcome> {
    const event = this.stmts.eventByUid.get(eventIdOf(uid), uid) as { id: number, status: DeliveryStatus } | undefined
    if (event === undefined) return 'unknown'
    if (event.status === 'delivered' || event.status === 'skipped') return 'not_failed'
    this.stmts.scheduleEvent.run(now, now, event.id)
    return 'scheduled'
  }

  async pruneEvents (deliveredBefore: number, failedBefore: number, limit: number): Promise<number> {
    return this.stmts.pruneEvents.run(failedBefore, deliveredBefore, limit).changes
  }

  /**
   * Ready means: the files are still the ones opened (not deleted or replaced, or the next
   * start would come up without what was stored), and a write commits (not a full disk, not
   * a read-only or corrupt file).
   */
  async ping (): Promise<void> {
    if (this.identity !== undefined) {
      const now = fileIdentity(this.file)
      if (now === undefined || now.ino !== this.identity.ino || now.dev !== this.identity.dev) {
        throw new Error(`${this.file} was deleted or replaced while open: restart only after restoring it`)
      }
      if (!existsSync(this.file + '-wal')) throw new Error(`${this.file}-wal was deleted while open: what it holds would be lost on restart`)
    }
    this.stmts.probe.run(Date.now())
  }

  async close (): Promise<void> {
    if (!this.db.open) return
    this.flushIndex()
    // The worker's connection first: the writer's close then checkpoints the rest and removes the WAL.
    await this.checkpointer?.close()
    this.db.close()
    this.lock?.close()
  }
}

function fileIdentity (file: string): { ino: number, dev: number } | undefined {
  if (file === ':memory:') return undefined
  try {
    const { ino, dev } = statSync(file)
    return { ino, dev }
  } catch {
    return undefined
  }
}

/**
 * A data directory that was used before but has no database any more must not quietly start
 * an empty one (every stored message would seem gone): only a new or empty directory does.
 */
function refuseMissingDatabase (dataDir: string, file: string): void {
  if (existsSync(file)) return
  const others = readdirSync(dataDir).filter((name) => name !== 'lost+found' && name !== LOCK)
  if (others.length === 0) return
  throw new Error(`${dataDir} holds ${others.join(', ')} but no duolog.db: the database is missing. Restore it, or point DUOLOG_DATA_DIR at an empty directory to start afresh`)
}

const retained: unknown[] = []

/**
 * Keeps better-sqlite3 objects reachable until the process exits. better-sqlite3 12 builds its
 * Database, Statement and iterator objects on node::ObjectWrap, whose destructor aborts the
 * process on Node.js 24.19 and later when the garbage collector frees one outside JavaScript
 * (an idle GC, or at exit): "Assertion failed: (env) != nullptr". better-sqlite3 13 fixes
 * that but does not run on Node.js 20, which duolog still supports. So every such object is
 * made once (no pragma(), no iterate(), which make throwaway ones) and never collected; a
 * process opens one store, so this costs nothing. Tests that open databases use it too.
 */
export function retainForProcessLifetime<T> (object: T): T {
  retained.push(object)
  return object
}

/** Frames in the WAL that make a checkpoint (the worker's, or the writer's own without one): fewer, larger ones. */
const AUTOCHECKPOINT_PAGES = 10_000

/** The size the WAL file is cut back to when it starts over (512 MiB). */
const WAL_SIZE_LIMIT_BYTES = 512 * 1024 * 1024

/** Beside the database; whoever holds it (a SQLite exclusive lock, released when the process dies) owns the directory. */
const LOCK = 'duolog.lock'

/**
 * Takes the directory's lock file or throws: an exclusive SQLite lock held until close, so a
 * second process (or a second store in this one) is refused at once, and a killed process's
 * lock goes with it. It is a file of its own so that the database itself stays open to the
 * checkpoint worker's connection.
 */
function holdDirectory (dataDir: string): Database.Database {
  const lock = retainForProcessLifetime(new Database(join(dataDir, LOCK), { timeout: 0 }))
  try {
    lock.exec('PRAGMA locking_mode = EXCLUSIVE')
    // A write takes the exclusive lock, and exclusive locking mode keeps it.
    lock.exec(`CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL);
      INSERT OR REPLACE INTO holder (id, pid) VALUES (1, ${process.pid})`)
  } catch (err) {
    lock.close()
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err
    throw new Error(`${dataDir} is in use: another duolog holds ${LOCK} (database is locked); one process per data directory`)
  }
  return lock
}

/** Written beside the database: a directory that has it was used, even if every other file is gone. */
const MARKER = 'duolog.marker'

/** Applies the migrations newer than the file's user_version, each in its own transaction. */
function migrate (db: Database.Database): void {
  const current = retainForProcessLifetime(db.prepare('PRAGMA user_version').pluck()).get() as number
  sqliteMigrations.forEach((sql, index) => {
    const version = index + 1
    if (version <= current) return
    db.transaction(() => {
      db.exec(sql)
      db.exec(`PRAGMA user_version = ${version}`)
    })()
  })
}
