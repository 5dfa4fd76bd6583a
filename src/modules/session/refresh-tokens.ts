/**
 * Refresh tokens (SPEC 7.2): `rt_` + 32 random bytes, stored only as SHA-256, bound to a session,
 * valid `refresh_token_ttl` from issue, rotated on every use.
 *
 * The successor of token T is `rt_` + base64url(HMAC-SHA256(refresh subkey, T)). The server can
 * therefore recompute it from T alone, so a retry within the grace window gets the *same*
 * successor back without the successor ever being stored in clear. Rotation is one conditional
 * UPDATE (`rotated_at IS NULL`) inside an immediate transaction: of any number of concurrent
 * refreshes of one token exactly one rotates it, and the others can only ever be handed that same
 * successor, so two different live successors cannot exist.
 */
import type { Statement } from "bun:sqlite";
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { createHash } from "node:crypto";
import { hmacSha256, sha256Hex } from "../../crypto/digest.ts";
import type { RateLimitResult } from "../../storage/sqlite/rate-limits.ts";
import { hitRateLimit } from "../../http/rate-limit.ts";
import { randomToken, SECRET_TOKEN_BYTES, toBase64Url, TOKEN_TEXT_PATTERN } from "../../crypto/random.ts";
import { revokeSession, touchSession } from "./sessions.ts";

export const REFRESH_TOKEN_PREFIX = "rt_";
/** `rt_` + 43 base64url characters (32 bytes). */
const TOKEN_RE = new RegExp(`^${REFRESH_TOKEN_PREFIX}${TOKEN_TEXT_PATTERN}$`);

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

interface RefreshStatements {
  insert: Statement;
  find: Statement;
  findRotated: Statement;
  rotate: Statement;
  retire: Statement;
}

const cache = new WeakMap<ProjectRuntime, RefreshStatements>();

function statementsOf(p: ProjectRuntime): RefreshStatements {
  let s = cache.get(p);
  if (!s) {
    s = {
      insert: p.db.prepare("INSERT INTO _refresh_tokens(token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)"),
      find: p.db.prepare(
        `SELECT t.session_id, t.expires_at, t.rotated_at, t.successor_hash, t.revoked_at,
                s.user_id, s.revoked_at AS session_revoked_at, s.created_at AS session_created_at
           FROM _refresh_tokens t JOIN _sessions s ON s.id = t.session_id
          WHERE t.token_hash = ?`,
      ),
      findRotated: p.db.prepare(
        `SELECT r.session_id, r.rotated_at, r.expires_at,
                s.user_id, s.revoked_at AS session_revoked_at, s.created_at AS session_created_at
           FROM _refresh_rotated r JOIN _sessions s ON s.id = r.session_id
          WHERE r.tag = ?`,
      ),
      // Deletes the live row and leaves the compact record in its place: only reuse detection
      // still needs to know the token, and only until it would have expired.
      rotate: p.db.prepare(
        `DELETE FROM _refresh_tokens
          WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
      ),
      retire: p.db.prepare("INSERT INTO _refresh_rotated(tag, session_id, rotated_at, expires_at) VALUES (?, ?, ?, ?)"),
    };
    cache.set(p, s);
  }
  return s;
}

/** The key of a rotated token's compact record: the first 16 bytes of SHA-256(token). */
function rotatedTagOf(token: string): Uint8Array {
  return createHash("sha256").update(token).digest().subarray(0, 16);
}

function successorOf(p: ProjectRuntime, token: string): string {
  return REFRESH_TOKEN_PREFIX + toBase64Url(hmacSha256(p.secrets.refresh, token));
}

/** A token never outlives its session's `session_max_age`, so housekeeping can drop it in time. */
function store(p: ProjectRuntime, token: string, sessionId: string, nowMs: number, sessionCreatedAtMs = nowMs): void {
  const expiresAt = Math.min(nowMs + p.config.auth.refreshTokenTtlSeconds * 1000, sessionCreatedAtMs + p.config.auth.sessionMaxAgeSeconds * 1000);
  statementsOf(p).insert.run(sha256Hex(token), sessionId, nowMs, expiresAt);
}

/** Issues the first refresh token of a session. Synchronous: call inside the session's transaction. */
export function issueRefreshToken(p: ProjectRuntime, sessionId: string, nowMs: number): string {
  const token = REFRESH_TOKEN_PREFIX + randomToken(p.deps.random, SECRET_TOKEN_BYTES);
  store(p, token, sessionId, nowMs);
  return token;
}

export type RotateResult =
  | { ok: true; refreshToken: string; sessionId: string; userId: string }
  | { ok: false; reuse: null; limited?: RateLimitResult }
  | { ok: false; reuse: { sessionId: string; userId: string } };

const REFUSED: RotateResult = { ok: false, reuse: null };

/** A session past `session_max_age` from its creation can no longer be refreshed. */
function sessionTooOld(p: ProjectRuntime, createdAtMs: number, nowMs: number): boolean {
  return nowMs >= createdAtMs + p.config.auth.sessionMaxAgeSeconds * 1000;
}

/**
 * Rotates `token`: the first use stores and returns its successor; a retry within
 * `refresh_reuse_grace` of the rotation returns the same successor; a use after the grace ends
 * the whole session (theft: someone else already used this token). Every use of a live session's
 * token counts against `refresh_per_session`.
 */
export function rotateRefreshToken(p: ProjectRuntime, token: string, nowMs: number): RotateResult {
  if (!TOKEN_RE.test(token)) return REFUSED;
  const s = statementsOf(p);
  const hash = sha256Hex(token);
  const graceMs = p.config.auth.refreshReuseGraceSeconds * 1000;
  const run = p.db.transaction((): RotateResult => {
    const row = s.find.get(hash) as TokenRow | null;
    const rotated = row ? null : (s.findRotated.get(rotatedTagOf(token)) as RotatedRow | null);
    const found = row ?? rotated;
    if (!found || (row && row.revoked_at !== null) || found.session_revoked_at !== null || found.expires_at <= nowMs) return REFUSED;
    if (sessionTooOld(p, found.session_created_at, nowMs)) return REFUSED;
    const rotatedAt = row ? row.rotated_at : rotated!.rotated_at;
    const successor = successorOf(p, token);
    if (rotatedAt !== null && nowMs - rotatedAt > graceMs) {
      revokeSession(p, found.session_id, nowMs, "refresh_reuse");
      return { ok: false, reuse: { sessionId: found.session_id, userId: found.user_id } };
    }
    const limit = hitRateLimit(p, "refresh_per_session", found.session_id, nowMs);
    if (limit && !limit.allowed) return { ok: false, reuse: null, limited: limit };
    if (rotatedAt === null) {
      if (s.rotate.run(hash, nowMs).changes !== 1) return REFUSED;
      s.retire.run(rotatedTagOf(token), found.session_id, nowMs, found.expires_at);
      store(p, successor, found.session_id, nowMs, found.session_created_at);
      touchSession(p, found.session_id, nowMs);
      return { ok: true, refreshToken: successor, sessionId: found.session_id, userId: found.user_id };
    }
    // Within the grace: the same successor again. (A row from before compact records existed
    // also carries the successor's hash; check it when it is there.)
    if (row && row.successor_hash !== sha256Hex(successor)) return REFUSED;
    return { ok: true, refreshToken: successor, sessionId: found.session_id, userId: found.user_id };
  });
  return run.immediate();
}
