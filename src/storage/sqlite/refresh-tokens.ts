/**
 * The `refreshTokens` group of the SQLite store. Rotation is one immediate transaction around one
 * conditional DELETE (`rotated_at IS NULL AND revoked_at IS NULL`): of any number of concurrent
 * refreshes of one token exactly one rotates it; the others can only be handed the same successor.
 */
import type { SessionsOps } from "../sessions.ts";
import type { RateLimitsOps } from "../rate-limits.ts";
import type { RefreshTokensOps, RotateRequest, RotateResult } from "../refresh-tokens.ts";
import { prepared } from "./prepared.ts";
import type { SqliteStoreContext, Sync } from "./store.ts";

interface TokenRow {
  session_id: string;
  expires_at: number;
  rotated_at: number | null;
  successor_hash: string | null;
  revoked_at: number | null;
  user_id: string;
  session_revoked_at: number | null;
  session_created_at: number;
}

interface RotatedRow {
  session_id: string;
  rotated_at: number;
  expires_at: number;
  user_id: string;
  session_revoked_at: number | null;
  session_created_at: number;
}

const REFUSED: RotateResult = { ok: false, reuse: null };

export function sqliteRefreshTokens(
  ctx: SqliteStoreContext,
  deps: { sessions: Sync<SessionsOps>; rateLimits: Sync<RateLimitsOps> },
): Sync<RefreshTokensOps> {
  const db = ctx.db;
  const insert = prepared(db, "INSERT INTO _refresh_tokens(token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)");
  const find = prepared(
    db,
    `SELECT t.session_id, t.expires_at, t.rotated_at, t.successor_hash, t.revoked_at,
            s.user_id, s.revoked_at AS session_revoked_at, s.created_at AS session_created_at
       FROM _refresh_tokens t JOIN _sessions s ON s.id = t.session_id
      WHERE t.token_hash = ?`,
  );
  const findRotated = prepared(
    db,
    `SELECT r.session_id, r.rotated_at, r.expires_at,
            s.user_id, s.revoked_at AS session_revoked_at, s.created_at AS session_created_at
       FROM _refresh_rotated r JOIN _sessions s ON s.id = r.session_id
      WHERE r.tag = ?`,
  );
  // Deletes the live row and leaves the compact record in its place: only reuse detection
  // still needs to know the token, and only until it would have expired.
  const rotate = prepared(
    db,
    `DELETE FROM _refresh_tokens
      WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
  );
  const retire = prepared(db, "INSERT INTO _refresh_rotated(tag, session_id, rotated_at, expires_at) VALUES (?, ?, ?, ?)");

  const rotateTx = db.transaction((r: RotateRequest): RotateResult => {
    const { nowMs } = r;
    const row = find().get(r.hash) as TokenRow | null;
    const rotated = row ? null : (findRotated().get(r.rotatedTag) as RotatedRow | null);
    const found = row ?? rotated;
    if (!found || (row && row.revoked_at !== null) || found.session_revoked_at !== null || found.expires_at <= nowMs) return REFUSED;
    // A session past `session_max_age` from its creation can no longer be refreshed.
    if (nowMs >= found.session_created_at + r.sessionMaxAgeMs) return REFUSED;
    const rotatedAt = row ? row.rotated_at : rotated!.rotated_at;
    if (rotatedAt !== null && nowMs - rotatedAt > r.graceMs) {
      deps.sessions.revoke(found.session_id, nowMs, "refresh_reuse");
      return { ok: false, reuse: { sessionId: found.session_id, userId: found.user_id } };
    }
    if (r.perSession) {
      const limit = deps.rateLimits.hit(`refresh_per_session:${found.session_id}`, r.perSession, nowMs);
      if (!limit.allowed) return { ok: false, reuse: null, limited: limit };
    }
    if (rotatedAt === null) {
      if (rotate().run(r.hash, nowMs).changes !== 1) return REFUSED;
      retire().run(r.rotatedTag, found.session_id, nowMs, found.expires_at);
      // A token never outlives its session's `session_max_age`, so housekeeping can drop it in time.
      const expiresAt = Math.min(nowMs + r.ttlMs, found.session_created_at + r.sessionMaxAgeMs);
      insert().run(r.successorHash, found.session_id, nowMs, expiresAt);
      deps.sessions.touch(found.session_id, nowMs);
      return { ok: true, refreshToken: r.successor, sessionId: found.session_id, userId: found.user_id };
    }
    // Within the grace: the same successor again. (A row from before compact records existed
    // also carries the successor's hash; check it when it is there.)
    if (row && row.successor_hash !== r.successorHash) return REFUSED;
    return { ok: true, refreshToken: r.successor, sessionId: found.session_id, userId: found.user_id };
  });

  return {
    issue(a) {
      insert().run(a.hash, a.sessionId, a.nowMs, a.expiresAtMs);
    },
    rotate: (req) => rotateTx.immediate(req),
  };
}
