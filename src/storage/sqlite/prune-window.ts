/**
 * Clean-ups that walk a table's primary key in windows (housekeeping, SPEC §4 tables that would
 * otherwise grow forever). One call looks at the next `window` rows after `after` and deletes those
 * matching the condition, in one short IMMEDIATE transaction: bun:sqlite is synchronous, so one
 * transaction is also one stretch of time in which no request runs. The caller walks on from the
 * returned `last` key, with the event loop free between two calls.
 */
import type { Database } from "bun:sqlite";

export type KeyValue = string | number | Uint8Array;
type Param = string | number | null;

export interface PruneStep {
  /** The last primary key looked at (where the next window starts). */
  readonly last: KeyValue;
  /** Rows looked at (at most the window). */
  readonly examined: number;
  readonly deleted: number;
  /** Time spent in the window's statements, and in its COMMIT (writing the WAL frames). */
  readonly statementMs: number;
  readonly commitMs: number;
}

/** Before the first key of a TEXT or BLOB primary key (a BLOB sorts after every TEXT). */
export const FIRST_TEXT_KEY = "";

/**
 * A pruner of `table` by `key`: `condition` may use ?3, ?4... (the `params` of each call).
 * Deleting rows that can no longer serve anyone needs no fsync of its own: if power fails they are
 * deleted again next time. The connection is back to synchronous=FULL before anything else can run
 * on it (bun:sqlite is synchronous), and the next FULL commit's fsync makes these frames durable.
 * Each step reports its statement and COMMIT times (bench/housekeeping-stalls.ts reads them).
 */
export function windowPruner(db: Database, table: string, key: string, condition: string): (after: KeyValue, window: number, params: readonly Param[]) => PruneStep | null {
  const windowEnd = db.query(`SELECT max(k) AS last, count(*) AS n FROM (SELECT ${key} AS k FROM ${table} WHERE ${key} > ?1 ORDER BY ${key} LIMIT ?2)`);
  const del = db.query(`DELETE FROM ${table} WHERE ${key} > ?1 AND ${key} <= ?2 AND (${condition})`);
  const begin = db.query("BEGIN IMMEDIATE");
  const commit = db.query("COMMIT");
  const rollback = db.query("ROLLBACK");
  return (after, window, params) =>
    (pruneCommits.fsync ? (fn: () => PruneStep | null) => fn() : (fn: () => PruneStep | null) => withoutSync(db, fn))(() => {
      const started = performance.now();
      begin.run();
      let step: PruneStep | null;
      try {
        const w = windowEnd.get(after, window) as { last: KeyValue | null; n: number };
        const deleted = w.last === null ? 0 : del.run(after, w.last, ...params).changes;
        const statementMs = performance.now() - started;
        commit.run();
        step = w.last === null ? null : { last: w.last, examined: w.n, deleted, statementMs, commitMs: performance.now() - started - statementMs };
      } catch (e) {
        if (db.inTransaction) rollback.run();
        throw e;
      }
      return step;
    });
}

/**
 * Bench only (bench/housekeeping-stalls.ts compares both): `fsync: true` commits each window with
 * the connection's synchronous=FULL, paying its own WAL fsync instead of leaving its frames to the
 * next user commit's fsync. Not the default: on a busy disk every window then costs an fsync, the
 * windows fall to their minimum size and the clean-up slows to a crawl (bench/RESULTS.md).
 */
export const pruneCommits = { fsync: false };

/** Runs `fn` with synchronous=NORMAL (no fsync at its commit), then back to FULL. */
export function withoutSync<T>(db: Database, fn: () => T): T {
  db.exec("PRAGMA synchronous=NORMAL");
  try {
    return fn();
  } finally {
    db.exec("PRAGMA synchronous=FULL");
  }
}

/**
 * The pruners of the session tables (see src/projects/housekeeping.ts for the order they run in):
 * refresh tokens past their expiry; sessions ended more than `?3` ago, or live with no usable
 * refresh token left and a last access token expired before `?4`; then the rows those sessions
 * leave behind (their tokens, rotation records, unverified marks) and rotation records past expiry.
 */
export function sessionPruners(db: Database) {
  return {
    expiredTokens: windowPruner(db, "_refresh_tokens", "token_hash", "expires_at <= ?3"),
    endedSessions: windowPruner(
      db,
      "_sessions",
      "id",
      `(revoked_at IS NOT NULL AND revoked_at < ?3)
        OR (revoked_at IS NULL AND last_used_at < ?4
            AND NOT EXISTS (SELECT 1 FROM _refresh_tokens t WHERE t.session_id = _sessions.id AND t.revoked_at IS NULL))`,
    ),
    orphanTokens: windowPruner(db, "_refresh_tokens", "token_hash", "NOT EXISTS (SELECT 1 FROM _sessions s WHERE s.id = _refresh_tokens.session_id)"),
    rotated: windowPruner(db, "_refresh_rotated", "tag", "expires_at <= ?3 OR NOT EXISTS (SELECT 1 FROM _sessions s WHERE s.id = _refresh_rotated.session_id)"),
    unverifiedMarks: windowPruner(db, "_sessions_unverified", "session_id", "NOT EXISTS (SELECT 1 FROM _sessions s WHERE s.id = _sessions_unverified.session_id)"),
  };
}
