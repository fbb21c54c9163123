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

  -- One row per message. The sender's and recipient's seqs are kept on the row so a
  -- history page shows each party its own seq without a join.
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    user_lo TEXT NOT NULL,
    user_hi TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    client_msg_id TEXT,
    sender_seq INTEGER NOT NULL,
    recipient_seq INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX messages_idempotency ON messages (sender, client_msg_id) WHERE client_msg_id IS NOT NULL;
  CREATE INDEX messages_conversation ON messages (user_lo, user_hi, id);

  -- Each user's dense stream: seq 1, 2, 3... points at the messages the user sent or received.
  CREATE TABLE stream (
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
  ) WITHOUT ROWID;
  `
]
