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
import { hmacSha256, sha256Hex } from "../../crypto/digest.ts";
import { randomToken, toBase64Url } from "../../crypto/random.ts";
import { revokeSession, touchSession } from "./sessions.ts";

export const REFRESH_TOKEN_PREFIX = "rt_";
/** `rt_` + 43 base64url characters (32 bytes). */
const TOKEN_RE = /^rt_[A-Za-z0-9_-]{43}$/;

interface TokenRow {
  session_id: string;
  expires_at: number;
  rotated_at: number | null;
  successor_hash: string | null;
  revoked_at: number | null;
  user_id: string;
  session_revoked_at: number | null;
}

interface RefreshStatements {
  insert: Statement;
  find: Statement;
  rotate: Statement;
}

const cache = new WeakMap<ProjectRuntime, RefreshStatements>();

function statementsOf(p: ProjectRuntime): RefreshStatements {
  let s = cache.get(p);
  if (!s) {
    s = {
      insert: p.db.prepare("INSERT INTO _refresh_tokens(token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)"),
      find: p.db.prepare(
        `SELECT t.session_id, t.expires_at, t.rotated_at, t.successor_hash, t.revoked_at,
                s.user_id, s.revoked_at AS session_revoked_at
           FROM _refresh_tokens t JOIN _sessions s ON s.id = t.session_id
          WHERE t.token_hash = ?`,
      ),
      rotate: p.db.prepare(
        `UPDATE _refresh_tokens SET rotated_at = ?, successor_hash = ?
          WHERE token_hash = ? AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
      ),
    };
    cache.set(p, s);
  }
  return s;
}

function successorOf(p: ProjectRuntime, token: string): string {
  return REFRESH_TOKEN_PREFIX + toBase64Url(hmacSha256(p.secrets.refresh, token));
}

function store(p: ProjectRuntime, token: string, sessionId: string, nowMs: number): void {
  const expiresAt = nowMs + p.config.auth.refreshTokenTtlSeconds * 1000;
  statementsOf(p).insert.run(sha256Hex(token), sessionId, nowMs, expiresAt);
}

/** Issues the first refresh token of a session. Synchronous: call inside the session's transaction. */
export function issueRefreshToken(p: ProjectRuntime, sessionId: string, nowMs: number): string {
  const token = REFRESH_TOKEN_PREFIX + randomToken(p.deps.random, 32);
  store(p, token, sessionId, nowMs);
  return token;
}

export type RotateResult =
  | { ok: true; refreshToken: string; sessionId: string; userId: string }
  | { ok: false; reuse: null }
  | { ok: false; reuse: { sessionId: string; userId: string } };

const REFUSED: RotateResult = { ok: false, reuse: null };

/**
 * Rotates `token`: the first use stores and returns its successor; a retry within
 * `refresh_reuse_grace` of the rotation returns the same successor; a use after the grace ends
 * the whole session (theft: someone else already used this token).
 */
export function rotateRefreshToken(p: ProjectRuntime, token: string, nowMs: number): RotateResult {
  if (!TOKEN_RE.test(token)) return REFUSED;
  const s = statementsOf(p);
  const hash = sha256Hex(token);
  const graceMs = p.config.auth.refreshReuseGraceSeconds * 1000;
  const run = p.db.transaction((): RotateResult => {
    const row = s.find.get(hash) as TokenRow | null;
    if (!row || row.revoked_at !== null || row.session_revoked_at !== null || row.expires_at <= nowMs) return REFUSED;
    const successor = successorOf(p, token);
    if (row.rotated_at === null) {
      if (s.rotate.run(nowMs, sha256Hex(successor), hash, nowMs).changes !== 1) return REFUSED;
      store(p, successor, row.session_id, nowMs);
      touchSession(p, row.session_id, nowMs);
      return { ok: true, refreshToken: successor, sessionId: row.session_id, userId: row.user_id };
    }
    if (nowMs - row.rotated_at <= graceMs && row.successor_hash === sha256Hex(successor)) {
      return { ok: true, refreshToken: successor, sessionId: row.session_id, userId: row.user_id };
    }
    revokeSession(p, row.session_id, nowMs, "refresh_reuse");
    return { ok: false, reuse: { sessionId: row.session_id, userId: row.user_id } };
  });
  return run.immediate();
}
