/**
 * The `sessions` group of the PostgreSQL store. Lock order: a session row before its refresh
 * tokens, in every operation that writes both (refresh rotation included), so a revoke and a
 * rotation of the same session queue behind each other instead of deadlocking.
 */
import type { LiveSessionRow, Sessions } from "../sessions.ts";
import { atomic, changes, num, rows, type PgRunner } from "./run.ts";
import type { PgGroupContext } from "./store.ts";

export function pgSessions(ctx: PgGroupContext, r: PgRunner): Sessions {
  const sessions = `${ctx.schema}._sessions`;
  const unverified = `${ctx.schema}._sessions_unverified`;
  const tokens = `${ctx.schema}._refresh_tokens`;
  const rotated = `${ctx.schema}._refresh_rotated`;

  const revokeTokensOf = `UPDATE ${tokens} SET revoked_at = $1 WHERE session_id = $2 AND revoked_at IS NULL`;

  return {
    async create(s) {
      const insert = `INSERT INTO ${sessions} (id, user_id, created_at, last_used_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6)`;
      if (!s.unverified) {
        await r.q.unsafe(insert, [s.id, s.userId, s.nowMs, s.nowMs, s.ip, s.userAgent]);
        return;
      }
      await atomic(r, async (q) => {
        await q.unsafe(insert, [s.id, s.userId, s.nowMs, s.nowMs, s.ip, s.userAgent]);
        await q.unsafe(`INSERT INTO ${unverified} (session_id, user_id) VALUES ($1, $2)`, [s.id, s.userId]);
      });
    },
    revoke: (sessionId, nowMs, reason) =>
      atomic(r, async (q) => {
        const ended = await changes(q, `UPDATE ${sessions} SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL`, [nowMs, reason, sessionId]);
        await q.unsafe(revokeTokensOf, [nowMs, sessionId]);
        return ended === 1;
      }),
    revokeOwned: (sessionId, userId, nowMs, reason) =>
      atomic(r, async (q) => {
        const ended = await changes(
          q,
          `UPDATE ${sessions} SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL`,
          [nowMs, reason, sessionId, userId],
        );
        if (ended !== 1) return false;
        await q.unsafe(revokeTokensOf, [nowMs, sessionId]);
        return true;
      }),
    revokeUser: (userId, nowMs, opts) =>
      atomic(r, async (q) => {
        const except = opts.exceptSessionId ?? null;
        const ended = await rows(
          q,
          `UPDATE ${sessions} SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL AND id IS DISTINCT FROM $4 RETURNING id`,
          [nowMs, opts.reason, userId, except],
        );
        await q.unsafe(
          `UPDATE ${tokens} SET revoked_at = $1 WHERE revoked_at IS NULL
             AND session_id IN (SELECT id FROM ${sessions} WHERE user_id = $2 AND id IS DISTINCT FROM $3)`,
          [nowMs, userId, except],
        );
        return ended.length;
      }),
    revokeUnverified: (userId, nowMs, reason) =>
      atomic(r, async (q) => {
        await q.unsafe(
          `UPDATE ${sessions} SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL
             AND id IN (SELECT session_id FROM ${unverified} WHERE user_id = $3)`,
          [nowMs, reason, userId],
        );
        await q.unsafe(
          `UPDATE ${tokens} SET revoked_at = $1 WHERE revoked_at IS NULL
             AND session_id IN (SELECT session_id FROM ${unverified} WHERE user_id = $2)`,
          [nowMs, userId],
        );
      }),
    async touch(sessionId, nowMs) {
      await r.q.unsafe(`UPDATE ${sessions} SET last_used_at = $1 WHERE id = $2`, [nowMs, sessionId]);
    },
    async listLive(userId, nowMs): Promise<LiveSessionRow[]> {
      const found = await rows<{ id: string; created_at: unknown; last_used_at: unknown; ip: string | null; user_agent: string | null; expires_at: unknown }>(
        r.q,
        `SELECT s.id, s.created_at, s.last_used_at, s.ip, s.user_agent, MAX(t.expires_at) AS expires_at
           FROM ${sessions} s JOIN ${tokens} t ON t.session_id = s.id AND t.revoked_at IS NULL
          WHERE s.user_id = $1 AND s.revoked_at IS NULL
          GROUP BY s.id HAVING MAX(t.expires_at) > $2
          ORDER BY s.created_at DESC, s.id DESC`,
        [userId, nowMs],
      );
      return found.map((x) => ({
        id: x.id,
        createdAtMs: num(x.created_at),
        lastUsedAtMs: num(x.last_used_at),
        expiresAtMs: num(x.expires_at),
        ip: x.ip,
        userAgent: x.user_agent,
      }));
    },
    async liveOwner(sessionId) {
      const [x] = await rows<{ user_id: string }>(r.q, `SELECT user_id FROM ${sessions} WHERE id = $1 AND revoked_at IS NULL`, [sessionId]);
      return x ? x.user_id : null;
    },
    prune: (nowMs, opts) =>
      atomic(r, async (q) => {
        const refreshTokens = await changes(q, `DELETE FROM ${tokens} WHERE expires_at <= $1`, [nowMs]);
        const ended = await changes(
          q,
          `DELETE FROM ${sessions} s
            WHERE (s.revoked_at IS NOT NULL AND s.revoked_at < $1)
               OR (s.revoked_at IS NULL AND s.last_used_at < $2
                   AND NOT EXISTS (SELECT 1 FROM ${tokens} t WHERE t.session_id = s.id AND t.revoked_at IS NULL))`,
          [opts.endedBeforeMs, opts.idleBeforeMs],
        );
        await q.unsafe(`DELETE FROM ${tokens} t WHERE NOT EXISTS (SELECT 1 FROM ${sessions} s WHERE s.id = t.session_id)`);
        await q.unsafe(`DELETE FROM ${unverified} u WHERE NOT EXISTS (SELECT 1 FROM ${sessions} s WHERE s.id = u.session_id)`);
        // Compact records of rotated tokens: needed for reuse detection only until the token expires.
        const gone = await changes(
          q,
          `DELETE FROM ${rotated} x WHERE x.expires_at <= $1 OR NOT EXISTS (SELECT 1 FROM ${sessions} s WHERE s.id = x.session_id)`,
          [nowMs],
        );
        return { sessions: ended, refreshTokens: refreshTokens + gone };
      }),
  };
}
