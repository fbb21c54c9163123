/**
 * PostgreSQL schema migrations, applied in order on start (under an advisory lock, so that
 * instances starting together apply each once). Never edit a released entry: append one.
 */
export const postgresMigrations: readonly string[] = [
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    last_seen BIGINT,
    acked_seq BIGINT NOT NULL DEFAULT 0,
    -- the user's newest seq: the counter row a send locks, which keeps the stream dense
    -- and makes a later seq of the same user commit after an earlier one
    last_seq BIGINT NOT NULL DEFAULT 0
  );

  CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    client_msg_id TEXT,
    sender_seq BIGINT NOT NULL,
    recipient_seq BIGINT NOT NULL
  );
  CREATE UNIQUE INDEX messages_idempotency ON messages (sender, client_msg_id) WHERE client_msg_id IS NOT NULL;
  CREATE INDEX messages_conversation ON messages (LEAST(sender, recipient), GREATEST(sender, recipient), id);

  CREATE TABLE stream (
    user_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
  );

  CREATE TABLE conversations (
    user_id TEXT NOT NULL,
    peer TEXT NOT NULL,
    last_message_id BIGINT NOT NULL DEFAULT 0,
    received BIGINT NOT NULL DEFAULT 0,
    read BIGINT NOT NULL DEFAULT 0,
    read_up_to BIGINT NOT NULL DEFAULT 0,
    delivered_up_to BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, peer)
  );
  CREATE INDEX conversations_recent ON conversations (user_id, last_message_id);

  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
  );
  CREATE INDEX sessions_user ON sessions (user_id);
  CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
  CREATE TABLE refresh_tokens (
    hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
  );
  `,
  `
  -- One user per id whatever its case: "Alice" cannot sign up beside "alice" (ids are ASCII).
  CREATE UNIQUE INDEX users_id_lower ON users (lower(id));
  `,
  `
  -- /readyz writes here: ready means a write commits (not a read-only node after a failover).
  CREATE TABLE readiness (probe TEXT PRIMARY KEY, at BIGINT NOT NULL);
  `,
  `
  -- The webhook outbox (src/store/outbox.ts). next_attempt_at is null once an event is finished
  -- (delivered, skipped, given up); released says its followers were let go (once only).
  CREATE TABLE webhook_events (
    id BIGSERIAL PRIMARY KEY,
    -- the webhook-id: the creation time and the id (src/store/outbox.ts), so no index of its own
    uid TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    message_id BIGINT,
    after_a BIGINT,
    after_b BIGINT,
    waiting INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    claimed_until BIGINT,
    last_attempt_at BIGINT,
    last_status INTEGER,
    last_error TEXT,
    finished_at BIGINT,
    released BOOLEAN NOT NULL DEFAULT false,
    -- a retry asked for (POST .../retry) while an attempt was in flight wins over that attempt's backoff
    -- message.created only: when its message.undelivered falls due, written once this one is finished
    -- (and only if the message is not acknowledged by then: most never need the row)
    undelivered_at BIGINT,
    claimed_at BIGINT,
    retry_asked_at BIGINT
  );
  CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE waiting = 0 AND next_attempt_at IS NOT NULL;
  CREATE INDEX webhook_events_after_a ON webhook_events (after_a) WHERE after_a IS NOT NULL;
  CREATE INDEX webhook_events_after_b ON webhook_events (after_b) WHERE after_b IS NOT NULL;
  CREATE INDEX webhook_events_message ON webhook_events (message_id) WHERE message_id IS NOT NULL;
  CREATE INDEX webhook_events_finished ON webhook_events (finished_at) WHERE next_attempt_at IS NULL;
  -- Each user's newest ordered event: the next one waits for it while it is unfinished.
  CREATE TABLE webhook_tails (user_id TEXT PRIMARY KEY, event_id BIGINT NOT NULL);
  `,
  `
  -- Edits and deletions: the message's current state, and a stream entry per change (kind
  -- 1 edited, 2 deleted; 0 is the message itself).
  ALTER TABLE messages ADD COLUMN edited_at BIGINT;
  ALTER TABLE messages ADD COLUMN deleted_at BIGINT;
  ALTER TABLE stream ADD COLUMN kind SMALLINT NOT NULL DEFAULT 0;
  `,
  `
  -- Blocks: blocker no longer receives blocked's messages (they are stored for the sender only).
  CREATE TABLE blocks (blocker TEXT NOT NULL, blocked TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (blocker, blocked));
  `,
  `
  -- A deleted account keeps its row (no content, no password) so that its id is never reused.
  ALTER TABLE users ADD COLUMN deleted_at BIGINT;
  `
]
