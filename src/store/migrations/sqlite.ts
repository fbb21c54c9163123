/**
 * SQLite schema migrations, applied in order on start; a file records the last
 * one applied in PRAGMA user_version. Never edit a released entry: append a new one.
 */
export const sqliteMigrations: readonly string[] = [
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    last_seen INTEGER,
    acked_seq INTEGER NOT NULL DEFAULT 0
  );

  -- The log: one row per message, appended in id order; the only table a send writes.
  -- Both parties' seqs are on the row, so the indexes below can be rebuilt from it.
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    client_msg_id TEXT,
    sender_seq INTEGER NOT NULL,
    recipient_seq INTEGER NOT NULL
  );

  -- Indexes over the log, written in sorted batches a little after the messages
  -- (messages with id > meta.indexed_up_to are indexed in memory until then).
  -- Each user's dense stream: seq 1, 2, 3... -> the messages the user sent or received.
  CREATE TABLE stream (
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
  ) WITHOUT ROWID;
  -- A conversation's messages by id, for history pages.
  CREATE TABLE conversation_index (
    user_lo TEXT NOT NULL,
    user_hi TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (user_lo, user_hi, message_id)
  ) WITHOUT ROWID;
  -- A sender's clientMsgIds, for idempotent retries.
  CREATE TABLE idempotency (
    sender TEXT NOT NULL,
    client_msg_id TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (sender, client_msg_id)
  ) WITHOUT ROWID;

  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
  INSERT INTO meta (key, value) VALUES ('indexed_up_to', 0);
  `,
  `
  -- Login sessions. Refresh tokens are kept as SHA-256 hashes, never as issued.
  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  CREATE INDEX sessions_user ON sessions (user_id);
  CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
  CREATE TABLE refresh_tokens (
    hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  ) WITHOUT ROWID;
  `,
  `
  -- Per user and peer: counters and markers, so that listing conversations and unread counts
  -- never scan messages. Written with the index batches (plus the unindexed tail on reads).
  CREATE TABLE conversations (
    user_id TEXT NOT NULL,
    peer TEXT NOT NULL,
    last_message_id INTEGER NOT NULL DEFAULT 0,
    -- unread = received - read: messages from the peer, and those of them at or below read_up_to
    received INTEGER NOT NULL DEFAULT 0,
    read INTEGER NOT NULL DEFAULT 0,
    read_up_to INTEGER NOT NULL DEFAULT 0,
    -- how far the peer's messages have reached a device of user_id
    delivered_up_to INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, peer)
  ) WITHOUT ROWID;
  CREATE INDEX conversations_recent ON conversations (user_id, last_message_id);
  `,
  `
  -- One user per id whatever its case: "Alice" cannot sign up beside "alice" (ids are ASCII).
  CREATE UNIQUE INDEX users_id_nocase ON users (id COLLATE NOCASE);
  `,
  `
  -- The webhook outbox (src/store/outbox.ts). next_attempt_at is null once an event is finished
  -- (delivered, skipped, given up); released says its followers were let go (once only).
  CREATE TABLE webhook_events (
    id INTEGER PRIMARY KEY,
    -- the webhook-id: the creation time and the id (src/store/outbox.ts), so no index of its own
    uid TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    message_id INTEGER,
    after_a INTEGER,
    after_b INTEGER,
    waiting INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    claimed_until INTEGER,
    last_attempt_at INTEGER,
    last_status INTEGER,
    last_error TEXT,
    finished_at INTEGER,
    released INTEGER NOT NULL DEFAULT 0,
    -- a retry asked for (POST .../retry) while an attempt was in flight wins over that attempt's backoff
    -- message.created only: when its message.undelivered falls due, written once this one is finished
    -- (and only if the message is not acknowledged by then: most never need the row)
    undelivered_at INTEGER,
    claimed_at INTEGER,
    retry_asked_at INTEGER
  );
  CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE waiting = 0 AND next_attempt_at IS NOT NULL;
  CREATE INDEX webhook_events_after_a ON webhook_events (after_a) WHERE after_a IS NOT NULL;
  CREATE INDEX webhook_events_after_b ON webhook_events (after_b) WHERE after_b IS NOT NULL;
  CREATE INDEX webhook_events_message ON webhook_events (message_id) WHERE message_id IS NOT NULL;
  CREATE INDEX webhook_events_finished ON webhook_events (finished_at) WHERE next_attempt_at IS NULL;
  -- Each user's newest ordered event: the next one waits for it while it is unfinished.
  CREATE TABLE webhook_tails (user_id TEXT PRIMARY KEY, event_id INTEGER NOT NULL) WITHOUT ROWID;
  `,
  `
  -- Edits and deletions: the message's current state, and a stream entry per change (kind
  -- 1 edited, 2 deleted; 0 is the message itself).
  ALTER TABLE messages ADD COLUMN edited_at INTEGER;
  ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
  ALTER TABLE stream ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- Blocks: blocker no longer receives blocked's messages (they are stored for the sender only).
  CREATE TABLE blocks (blocker TEXT NOT NULL, blocked TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (blocker, blocked)) WITHOUT ROWID;
  `,
  `
  -- A deleted account keeps its row (no content, no password) so that its id is never reused.
  ALTER TABLE users ADD COLUMN deleted_at INTEGER;
  `,
  `
  -- The index is written in slices (src/store/sqlite.ts): a conversation's counters count only
  -- messages above this, so that a run made again after a crash counts nothing twice. Every
  -- message up to last_message_id was counted by the whole batches written so far.
  ALTER TABLE conversations ADD COLUMN counted_up_to INTEGER NOT NULL DEFAULT 0;
  UPDATE conversations SET counted_up_to = last_message_id;
  `
]
