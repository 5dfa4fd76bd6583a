/**
 * Sessions: one per login (or signup). An access token carries its session id (`sid`); ending a
 * session revokes its refresh tokens and makes every access token with that `sid` refused.
 * Everything here is synchronous so it can run inside the caller's transaction.
 */
import type { Statement } from "bun:sqlite";
import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { ClientMeta } from "../../http/client-meta.ts";
import { uuidV4 } from "../../crypto/random.ts";
import { ENDED_SESSION_RETENTION_MS } from "../../projects/housekeeping.ts";

interface SessionStatements {
  insert: Statement;
  markUnverified: Statement;
  revokeUnverified: Statement;
  revokeUnverifiedTokens: Statement;
  revokeOne: Statement;
  revokeOneTokens: Statement;
  revokeUser: Statement;
  revokeUserTokens: Statement;
  touch: Statement;
}

const cache = new WeakMap<ProjectRuntime, SessionStatements>();

function statementsOf(p: ProjectRuntime): SessionStatements {
  let s = cache.get(p);
  if (!s) {
    s = {
      insert: p.db.prepare("INSERT INTO _sessions(id, user_id, created_at, last_used_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)"),
      markUnverified: p.db.prepare("INSERT INTO _sessions_unverified(session_id, user_id) VALUES (?, ?)"),
      revokeUnverified: p.db.prepare(
        `UPDATE _sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL
           AND id IN (SELECT session_id FROM _sessions_unverified WHERE user_id = ?3)`,
      ),
      revokeUnverifiedTokens: p.db.prepare(
        `UPDATE _refresh_tokens SET revoked_at = ?1 WHERE revoked_at IS NULL
           AND session_id IN (SELECT session_id FROM _sessions_unverified WHERE user_id = ?2)`,
      ),
      revokeOne: p.db.prepare("UPDATE _sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL"),
      revokeOneTokens: p.db.prepare("UPDATE _refresh_tokens SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL"),
      revokeUser: p.db.prepare(
        "UPDATE _sessions SET revoked_at = ?1, revoke_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL AND id IS NOT ?4 RETURNING id",
      ),
      revokeUserTokens: p.db.prepare(
        `UPDATE _refresh_tokens SET revoked_at = ?1 WHERE revoked_at IS NULL
           AND session_id IN (SELECT id FROM _sessions WHERE user_id = ?2 AND id IS NOT ?3)`,
      ),
      touch: p.db.prepare("UPDATE _sessions SET last_used_at = ? WHERE id = ?"),
    };
    cache.set(p, s);
  }
  return s;
}

/**
 * Creates a live session for `userId` and returns its id. A session opened while the email is
 * unverified is remembered as such (see revokeUnverifiedSessions).
 */
export function createSession(p: ProjectRuntime, user: { id: string; email_verified: boolean }, nowMs: number, client: ClientMeta): string {
  const id = uuidV4(p.deps.random);
  const s = statementsOf(p);
  s.insert.run(id, user.id, nowMs, nowMs, client.ip, client.userAgent);
  if (!user.email_verified) s.markUnverified.run(id, user.id);
  return id;
}

/**
 * Ends every session of the user that was opened while the email was unverified, and their
 * refresh tokens. Synchronous, usable inside a transaction.
 */
export function revokeUnverifiedSessions(p: ProjectRuntime, userId: string, nowMs: number, opts: { reason: string }): void {
  const s = statementsOf(p);
  p.db.transaction(() => {
    s.revokeUnverifiedTokens.run(nowMs, userId);
    s.revokeUnverified.run(nowMs, opts.reason, userId);
  })();
}

/** Ends one session and its refresh tokens. Returns false when it was already ended. */
export function revokeSession(p: ProjectRuntime, sessionId: string, nowMs: number, reason: string): boolean {
  const s = statementsOf(p);
  let ended = false;
  p.db.transaction(() => {
    ended = s.revokeOne.run(nowMs, reason, sessionId).changes === 1;
    s.revokeOneTokens.run(nowMs, sessionId);
  })();
  return ended;
}

/**
 * Ends every session of a user (but `exceptSessionId`) and their refresh tokens. Synchronous and
 * usable inside a transaction (a nested call becomes a savepoint). Returns how many sessions ended.
 */
export function revokeUserSessions(
  p: ProjectRuntime,
  userId: string,
  nowMs: number,
  opts: { exceptSessionId?: string; reason: string },
): number {
  const s = statementsOf(p);
  const except = opts.exceptSessionId ?? null;
  return p.db.transaction(() => {
    s.revokeUserTokens.run(nowMs, userId, except);
    return s.revokeUser.all(nowMs, opts.reason, userId, except).length;
  })();
}

export function touchSession(p: ProjectRuntime, sessionId: string, nowMs: number): void {
  statementsOf(p).touch.run(nowMs, sessionId);
}


/**
 * Deletes what can no longer authenticate anyone, so the tables do not grow forever:
 * refresh tokens past their expiry (refused either way, rotated or not), sessions ended more
 * than 30 days ago, and sessions with no usable refresh token left whose last access token
 * (issued at `last_used_at` at the latest) has expired. Returns how many rows went.
 */
export function pruneSessions(p: ProjectRuntime, nowMs: number): { sessions: number; refreshTokens: number } {
  const accessTtlMs = p.config.auth.accessTokenTtlSeconds * 1000;
  return p.db.transaction(() => {
    const refreshTokens = p.db.query("DELETE FROM _refresh_tokens WHERE expires_at <= ?").run(nowMs).changes;
    const sessions = p.db
      .query(
        `DELETE FROM _sessions
          WHERE (revoked_at IS NOT NULL AND revoked_at < ?1)
             OR (revoked_at IS NULL AND last_used_at < ?2
                 AND NOT EXISTS (SELECT 1 FROM _refresh_tokens t WHERE t.session_id = _sessions.id AND t.revoked_at IS NULL))`,
      )
      .run(nowMs - ENDED_SESSION_RETENTION_MS, nowMs - accessTtlMs).changes;
    p.db.query("DELETE FROM _refresh_tokens WHERE session_id NOT IN (SELECT id FROM _sessions)").run();
    p.db.query("DELETE FROM _sessions_unverified WHERE session_id NOT IN (SELECT id FROM _sessions)").run();
    // Compact records of rotated tokens: needed for reuse detection only until the token expires.
    const rotated = p.db
      .query("DELETE FROM _refresh_rotated WHERE expires_at <= ? OR session_id NOT IN (SELECT id FROM _sessions)")
      .run(nowMs).changes;
    return { sessions, refreshTokens: refreshTokens + rotated };
  }).immediate();
}
