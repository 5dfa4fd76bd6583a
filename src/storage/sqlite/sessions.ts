/** The `sessions` group of the SQLite store (internal tables: plain prepared statements). */
import type { LiveSessionRow, SessionsOps } from "../sessions.ts";
import { prepared } from "./prepared.ts";
import type { SqliteStoreContext, Sync } from "./store.ts";

export function sqliteSessions(ctx: SqliteStoreContext): Sync<SessionsOps> {
  const db = ctx.db;
  const insert = prepared(db, "INSERT INTO _sessions(id, user_id, created_at, last_used_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)");
  const markUnverified = prepared(db, "INSERT INTO _sessions_unverified(session_id, user_id) VALUES (?, ?)");
  const revokeUnverified = prepared(
    db,
    `UPDATE _sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL
       AND id IN (SELECT session_id FROM _sessions_unverified WHERE user_id = ?3)`,
  );
  const revokeUnverifiedTokens = prepared(
    db,
    `UPDATE _refresh_tokens SET revoked_at = ?1 WHERE revoked_at IS NULL
       AND session_id IN (SELECT session_id FROM _sessions_unverified WHERE user_id = ?2)`,
  );
  const revokeOne = prepared(db, "UPDATE _sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL");
  const revokeOwned = prepared(
    db,
    "UPDATE _sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE id = ?3 AND user_id = ?4 AND revoked_at IS NULL",
  );
  const revokeOneTokens = prepared(db, "UPDATE _refresh_tokens SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL");
  const revokeUser = prepared(
    db,
    "UPDATE _sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL AND id IS NOT ?4 RETURNING id",
  );
  const revokeUserTokens = prepared(
    db,
    `UPDATE _refresh_tokens SET revoked_at = ?1 WHERE revoked_at IS NULL
       AND session_id IN (SELECT id FROM _sessions WHERE user_id = ?2 AND id IS NOT ?3)`,
  );
  const touch = prepared(db, "UPDATE _sessions SET last_used_at = ? WHERE id = ?");
  const listLive = prepared(
    db,
    `SELECT s.id, s.created_at, s.last_used_at, s.ip, s.user_agent, MAX(t.expires_at) AS expires_at
       FROM _sessions s JOIN _refresh_tokens t ON t.session_id = s.id AND t.revoked_at IS NULL
      WHERE s.user_id = ?1 AND s.revoked_at IS NULL
      GROUP BY s.id HAVING MAX(t.expires_at) > ?2
      ORDER BY s.created_at DESC, s.id DESC`,
  );
  const liveOwner = prepared(db, "SELECT user_id FROM _sessions WHERE id = ? AND revoked_at IS NULL");
  const pruneExpiredTokens = prepared(db, "DELETE FROM _refresh_tokens WHERE expires_at <= ?");
  const pruneSessions = prepared(
    db,
    `DELETE FROM _sessions
      WHERE (revoked_at IS NOT NULL AND revoked_at < ?1)
         OR (revoked_at IS NULL AND last_used_at < ?2
             AND NOT EXISTS (SELECT 1 FROM _refresh_tokens t WHERE t.session_id = _sessions.id AND t.revoked_at IS NULL))`,
  );
  const pruneOrphanTokens = prepared(db, "DELETE FROM _refresh_tokens WHERE session_id NOT IN (SELECT id FROM _sessions)");
  const pruneOrphanUnverified = prepared(db, "DELETE FROM _sessions_unverified WHERE session_id NOT IN (SELECT id FROM _sessions)");
  // Compact records of rotated tokens: needed for reuse detection only until the token expires.
  const pruneRotated = prepared(db, "DELETE FROM _refresh_rotated WHERE expires_at <= ? OR session_id NOT IN (SELECT id FROM _sessions)");

  // Each step that writes two tables is one SQLite transaction (a savepoint inside the caller's).
  const revokeTx = db.transaction((sessionId: string, nowMs: number, reason: string): boolean => {
    const ended = revokeOne().run(nowMs, reason, sessionId).changes === 1;
    revokeOneTokens().run(nowMs, sessionId);
    return ended;
  });
  const revokeOwnedTx = db.transaction((sessionId: string, userId: string, nowMs: number, reason: string): boolean => {
    if (revokeOwned().run(nowMs, reason, sessionId, userId).changes !== 1) return false;
    revokeOneTokens().run(nowMs, sessionId);
    return true;
  });
  const revokeUserTx = db.transaction((userId: string, nowMs: number, reason: string, except: string | null): number => {
    revokeUserTokens().run(nowMs, userId, except);
    return revokeUser().all(nowMs, reason, userId, except).length;
  });
  const revokeUnverifiedTx = db.transaction((userId: string, nowMs: number, reason: string): void => {
    revokeUnverifiedTokens().run(nowMs, userId);
    revokeUnverified().run(nowMs, reason, userId);
  });
  const pruneTx = db.transaction((nowMs: number, endedBeforeMs: number, idleBeforeMs: number) => {
    const refreshTokens = pruneExpiredTokens().run(nowMs).changes;
    const sessions = pruneSessions().run(endedBeforeMs, idleBeforeMs).changes;
    pruneOrphanTokens().run();
    pruneOrphanUnverified().run();
    const rotated = pruneRotated().run(nowMs).changes;
    return { sessions, refreshTokens: refreshTokens + rotated };
  });

  return {
    create(s) {
      insert().run(s.id, s.userId, s.nowMs, s.nowMs, s.ip, s.userAgent);
      if (s.unverified) markUnverified().run(s.id, s.userId);
    },
    revoke: (sessionId, nowMs, reason) => revokeTx(sessionId, nowMs, reason),
    revokeOwned: (sessionId, userId, nowMs, reason) => revokeOwnedTx(sessionId, userId, nowMs, reason),
    revokeUser: (userId, nowMs, opts) => revokeUserTx(userId, nowMs, opts.reason, opts.exceptSessionId ?? null),
    revokeUnverified: (userId, nowMs, reason) => revokeUnverifiedTx(userId, nowMs, reason),
    touch(sessionId, nowMs) {
      touch().run(nowMs, sessionId);
    },
    listLive(userId, nowMs): LiveSessionRow[] {
      const rows = listLive().all(userId, nowMs) as { id: string; created_at: number; last_used_at: number; ip: string | null; user_agent: string | null; expires_at: number }[];
      return rows.map((r) => ({
        id: r.id,
        createdAtMs: r.created_at,
        lastUsedAtMs: r.last_used_at,
        expiresAtMs: r.expires_at,
        ip: r.ip,
        userAgent: r.user_agent,
      }));
    },
    liveOwner(sessionId) {
      const r = liveOwner().get(sessionId) as { user_id: string } | null;
      return r ? r.user_id : null;
    },
    prune: (nowMs, opts) => pruneTx.immediate(nowMs, opts.endedBeforeMs, opts.idleBeforeMs),
  };
}
