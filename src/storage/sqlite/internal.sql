-- Latchkey internal tables (schema version 1). Names starting with "_" are never user tables.
-- Hot tables keyed by a text id are WITHOUT ROWID: a lookup or an insert touches one B-tree, not two.
CREATE TABLE IF NOT EXISTS _latchkey_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- Every applied schema change, with a timestamp (SPEC 3).
CREATE TABLE IF NOT EXISTS _schema_history (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  applied_at  TEXT NOT NULL,
  kind        TEXT NOT NULL,
  table_name  TEXT NOT NULL,
  column_name TEXT,
  destructive INTEGER NOT NULL DEFAULT 0,
  description TEXT NOT NULL,
  sql         TEXT NOT NULL
) STRICT;

-- Settings with the declared-vs-API rule (SPEC 2): `declared` is what the file said at the last
-- boot, `value` is the value in force. Project keys live here as `keys.admin` / `keys.public`,
-- stored only as SHA-256 hashes (value and declared alike).
CREATE TABLE IF NOT EXISTS _settings (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  declared   TEXT,
  updated_at TEXT NOT NULL
) STRICT;

-- JWT signing secrets, encrypted with a key derived from the server key (AES-256-GCM).
-- Only the row with retired_at IS NULL signs and verifies.
CREATE TABLE IF NOT EXISTS _jwt_secrets (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  secret_enc BLOB NOT NULL,
  created_at TEXT NOT NULL,
  retired_at TEXT
) STRICT;

-- EdDSA / ES256 signing key pairs (SPEC 13). The private key (PKCS#8) is sealed with a key
-- derived from the server key; `kid` is the RFC 7638 thumbprint of the public key. A key is
-- published from created_at, signs from signs_from until its successor's signs_from (signs_until),
-- and is deleted once its last token has expired (signs_until + ttl_max_s).
CREATE TABLE IF NOT EXISTS _signing_keys (
  kid         TEXT PRIMARY KEY,
  alg         TEXT NOT NULL CHECK (alg IN ('EdDSA', 'ES256')),
  private_enc BLOB NOT NULL,
  created_at  INTEGER NOT NULL, -- unix ms
  signs_from  INTEGER NOT NULL,
  signs_until INTEGER,
  ttl_max_s   INTEGER NOT NULL  -- longest access_token_ttl in force while it could sign
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS _sessions (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL,
  created_at   INTEGER NOT NULL, -- unix ms
  last_used_at INTEGER NOT NULL,
  revoked_at   INTEGER,
  revoke_reason TEXT,
  ip           TEXT,
  user_agent   TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS _sessions_user ON _sessions(user_id);

-- Sessions opened while the user's email was unverified. A completed password reset ends them
-- whatever the revoke settings say (someone may have signed up with another person's address).
CREATE TABLE IF NOT EXISTS _sessions_unverified (
  session_id TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS _sessions_unverified_user ON _sessions_unverified(user_id);

-- Refresh tokens, stored only as SHA-256 hashes. A successor is derived as an HMAC of its parent
-- under a server-key-derived secret, so a retry within the grace window can be answered with the
-- same successor without keeping any token in clear.
CREATE TABLE IF NOT EXISTS _refresh_tokens (
  token_hash     TEXT PRIMARY KEY,
  session_id     TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  rotated_at     INTEGER,
  successor_hash TEXT,
  revoked_at     INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS _refresh_tokens_session ON _refresh_tokens(session_id);

-- Compact record of a rotated-out refresh token, kept only for reuse detection (and the grace
-- retry) until the token would have expired: the first 16 bytes of SHA-256(token), its session,
-- when it was rotated. Its full _refresh_tokens row is deleted at rotation.
CREATE TABLE IF NOT EXISTS _refresh_rotated (
  tag        BLOB PRIMARY KEY,
  session_id TEXT NOT NULL,
  rotated_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- One-time link tokens (reset, verify). The token is HMAC(server link key, id): only the id and
-- the token's hash are stored, never the token.
CREATE TABLE IF NOT EXISTS _link_tokens (
  id         TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  kind       TEXT NOT NULL CHECK (kind IN ('reset', 'verify')),
  user_id    TEXT NOT NULL,
  email      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS _link_tokens_user ON _link_tokens(user_id, kind);

-- Mail outbox: written in the same transaction as the token it carries. `payload` holds template
-- variables and at most a link token *id* (rebuilt at send time); dropped once sent or failed.
CREATE TABLE IF NOT EXISTS _outbox (
  id              TEXT PRIMARY KEY,
  template        TEXT NOT NULL,
  to_addr         TEXT NOT NULL,
  payload         TEXT,
  status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  finished_at     INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS _outbox_due ON _outbox(status, next_attempt_at);

-- Fixed-window rate-limit counters, updated with one atomic UPSERT ... RETURNING.
CREATE TABLE IF NOT EXISTS _rate_limits (
  key          TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL, -- unix ms
  count        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Audit log (SPEC 12): one row per security event and admin action. Never a password, token, key
-- or hash: `details` is a small JSON object of ids, counts and reasons. Pruned after audit.retention.
CREATE TABLE IF NOT EXISTS _audit (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  at         INTEGER NOT NULL, -- unix ms
  type       TEXT NOT NULL,
  user_id    TEXT,
  ip         TEXT,
  user_agent TEXT,
  request_id TEXT,
  details    TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX IF NOT EXISTS _audit_user ON _audit(user_id, id);
CREATE INDEX IF NOT EXISTS _audit_type ON _audit(type, id);
CREATE INDEX IF NOT EXISTS _audit_at ON _audit(at);

-- Per-user state an operator manages (SPEC 12): ban and last login. A missing row means "never
-- banned, never logged in". Deleted with the user.
CREATE TABLE IF NOT EXISTS _user_status (
  user_id       TEXT PRIMARY KEY,
  banned_at     INTEGER,          -- unix ms; NULL = not banned
  banned_until  INTEGER,          -- unix ms; NULL with banned_at set = until unbanned
  ban_reason    TEXT,
  last_login_at INTEGER
) STRICT, WITHOUT ROWID;
-- `banned=true` in the admin user list (SPEC 12) starts from the users under an active ban: a ban
-- row whose end (none = the largest integer) is after now, a range of this index, so expired bans
-- left in place are not read. src/modules/admin-users/list.ts repeats the expression exactly.
CREATE INDEX IF NOT EXISTS _user_status_banned ON _user_status(ifnull(banned_until, 9223372036854775807), banned_at) WHERE banned_at IS NOT NULL;

-- Pending email changes (SPEC 11): the confirmation link is a `verify` link token sent to the new
-- address; this row says that token confirms a change (from `old_email`) rather than a signup address.
CREATE TABLE IF NOT EXISTS _email_changes (
  token_id      TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL,
  old_email     TEXT NOT NULL,
  new_email     TEXT NOT NULL,
  new_canonical TEXT NOT NULL,
  created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS _email_changes_user ON _email_changes(user_id);

-- Admin console sessions (sign-in with the admin key). Only the SHA-256 of the cookie's token is
-- stored; `key_mark` is a hash of the admin key hash in force at sign-in, so any rotation of the
-- admin key (API, console, CLI or project file) ends every console session.
CREATE TABLE IF NOT EXISTS _console_sessions (
  token_hash TEXT PRIMARY KEY,
  key_mark   TEXT NOT NULL,
  created_at INTEGER NOT NULL, -- unix ms
  expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
