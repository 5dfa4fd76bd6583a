/**
 * The `refreshTokens` group of the PostgreSQL store. Rotation is one transaction whose decision is
 * one conditional `DELETE ... RETURNING` (`rotated_at IS NULL AND revoked_at IS NULL`): a concurrent
 * rotation of the same token, on this replica or another, waits for the first one's row lock, then
 * finds the row gone and can only be handed the successor that the first one recorded. Two
 * different live successors cannot exist. Grace window, reuse detection and `refresh_per_session`
 * behave exactly as in the SQLite engine (src/storage/sqlite/refresh-tokens.ts).
 */
import type { TransactionSQL } from "bun";
import type { RateLimits } from "../rate-limits.ts";
import type { RefreshTokens, RotateRequest, RotateResult } from "../refresh-tokens.ts";
import type { Sessions } from "../sessions.ts";
import { atomic, num, numOrNull, rows, type PgRunner } from "./run.ts";
import type { PgGroupContext } from "./store.ts";

/** What a presented token leads to: its live row, or the compact record left by its rotation. */
interface Found {
  sessionId: string;
  userId: string;
  expiresAt: number;
  /** Null while the token is live (not rotated yet). */
  rotatedAt: number | null;
  /** Only on a live row: its revocation, and a successor recorded by an older rotation. */
  revokedAt: number | null;
  successorHash: string | null;
  live: boolean;
  sessionRevokedAt: number | null;
  sessionCreatedAt: number;
}

const REFUSED: RotateResult = { ok: false, reuse: null };

export function pgRefreshTokens(ctx: PgGroupContext, r: PgRunner, deps: { sessions: (q: PgRunner) => Sessions; rateLimits: (q: PgRunner) => RateLimits }): RefreshTokens {
  const tokens = `${ctx.schema}._refresh_tokens`;
  const retired = `${ctx.schema}._refresh_rotated`;
  const sessions = `${ctx.schema}._sessions`;
  const insert = `INSERT INTO ${tokens} (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`;

  async function find(q: TransactionSQL, req: RotateRequest): Promise<Found | null> {
    const [row] = await rows<Record<string, unknown>>(
      q,
      `SELECT t.session_id, t.expires_at, t.rotated_at, t.successor_hash, t.revoked_at,
              s.user_id, s.revoked_at AS session_revoked_at, s.created_at AS session_created_at
         FROM ${tokens} t JOIN ${sessions} s ON s.id = t.session_id
        WHERE t.token_hash = $1`,
      [req.hash],
    );
    if (row) {
      return {
        sessionId: row.session_id as string,
        userId: row.user_id as string,
        expiresAt: num(row.expires_at),
        rotatedAt: numOrNull(row.rotated_at),
        revokedAt: numOrNull(row.revoked_at),
        successorHash: (row.successor_hash as string | null) ?? null,
        live: true,
        sessionRevokedAt: numOrNull(row.session_revoked_at),
        sessionCreatedAt: num(row.session_created_at),
      };
    }
    const [rec] = await rows<Record<string, unknown>>(
      q,
      `SELECT r.session_id, r.rotated_at, r.expires_at,
              s.user_id, s.revoked_at AS session_revoked_at, s.created_at AS session_created_at
         FROM ${retired} r JOIN ${sessions} s ON s.id = r.session_id
        WHERE r.tag = $1`,
      [req.rotatedTag],
    );
    if (!rec) return null;
    return {
      sessionId: rec.session_id as string,
      userId: rec.user_id as string,
      expiresAt: num(rec.expires_at),
      rotatedAt: num(rec.rotated_at),
      revokedAt: null,
      successorHash: null,
      live: false,
      sessionRevokedAt: numOrNull(rec.session_revoked_at),
      sessionCreatedAt: num(rec.session_created_at),
    };
  }

  async function rotateIn(q: TransactionSQL, req: RotateRequest, again: boolean): Promise<RotateResult> {
    const { nowMs } = req;
    const inTx: PgRunner = { q, tx: q };
    const found = await find(q, req);
    if (!found || found.revokedAt !== null || found.sessionRevokedAt !== null || found.expiresAt <= nowMs) return REFUSED;
    // A session past `session_max_age` from its creation can no longer be refreshed.
    if (nowMs >= found.sessionCreatedAt + req.sessionMaxAgeMs) return REFUSED;
    if (found.rotatedAt !== null && nowMs - found.rotatedAt > req.graceMs) {
      await deps.sessions(inTx).revoke(found.sessionId, nowMs, "refresh_reuse");
      return { ok: false, reuse: { sessionId: found.sessionId, userId: found.userId } };
    }
    // The session row first (the lock order of every operation that writes a session and its
    // tokens, see sessions.ts); it must still be live.
    const [session] = await rows(q, `SELECT 1 AS live FROM ${sessions} WHERE id = $1 AND revoked_at IS NULL FOR UPDATE`, [found.sessionId]);
    if (!session) return REFUSED;
    if (req.perSession && !again) {
      const limit = await deps.rateLimits(inTx).hit(`refresh_per_session:${found.sessionId}`, req.perSession, nowMs);
      if (!limit.allowed) return { ok: false, reuse: null, limited: limit };
    }
    if (found.rotatedAt === null) {
      // The decision: only one transaction deletes the live row. One that finds it gone had a
      // concurrent rotation commit first: it looks again and finds the compact record.
      const [taken] = await rows(
        q,
        `DELETE FROM ${tokens} WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $2 RETURNING session_id`,
        [req.hash, nowMs],
      );
      if (!taken) return again ? REFUSED : await rotateIn(q, req, true);
      await q.unsafe(`INSERT INTO ${retired} (tag, session_id, rotated_at, expires_at) VALUES ($1, $2, $3, $4)`, [req.rotatedTag, found.sessionId, nowMs, found.expiresAt]);
      // A token never outlives its session's `session_max_age`, so housekeeping can drop it in time.
      const expiresAt = Math.min(nowMs + req.ttlMs, found.sessionCreatedAt + req.sessionMaxAgeMs);
      await q.unsafe(insert, [req.successorHash, found.sessionId, nowMs, expiresAt]);
      await q.unsafe(`UPDATE ${sessions} SET last_used_at = $1 WHERE id = $2`, [nowMs, found.sessionId]);
      return { ok: true, refreshToken: req.successor, sessionId: found.sessionId, userId: found.userId };
    }
    // Within the grace: the same successor again. (A row from before compact records existed
    // also carries the successor's hash; check it when it is there.)
    if (found.live && found.successorHash !== req.successorHash) return REFUSED;
    return { ok: true, refreshToken: req.successor, sessionId: found.sessionId, userId: found.userId };
  }

  return {
    async issue(a) {
      await r.q.unsafe(insert, [a.hash, a.sessionId, a.nowMs, a.expiresAtMs]);
    },
    rotate: (req) => atomic(r, (q) => rotateIn(q, req, false)),
  };
}
