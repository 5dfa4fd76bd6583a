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
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { createHash } from "node:crypto";
import { hmacSha256, sha256Hex } from "../../crypto/digest.ts";
import { randomToken, SECRET_TOKEN_BYTES, toBase64Url, TOKEN_TEXT_PATTERN } from "../../crypto/random.ts";
import type { StoreOps } from "../../storage/store.ts";
import type { RotateResult } from "../../storage/refresh-tokens.ts";

export type { RotateResult } from "../../storage/refresh-tokens.ts";

export const REFRESH_TOKEN_PREFIX = "rt_";
/** `rt_` + 43 base64url characters (32 bytes). */
const TOKEN_RE = new RegExp(`^${REFRESH_TOKEN_PREFIX}${TOKEN_TEXT_PATTERN}$`);

/** The key of a rotated token's compact record: the first 16 bytes of SHA-256(token). */
function rotatedTagOf(token: string): Uint8Array {
  return createHash("sha256").update(token).digest().subarray(0, 16);
}

function successorOf(p: Pick<ProjectRuntime, "secrets">, token: string): string {
  return REFRESH_TOKEN_PREFIX + toBase64Url(hmacSha256(p.secrets.refresh, token));
}

/** Issues the first refresh token of a session, through the session's transaction `tx`. */
export async function issueRefreshToken(
  p: Pick<ProjectRuntime, "config" | "deps">,
  tx: Pick<StoreOps, "refreshTokens">,
  sessionId: string,
  nowMs: number,
): Promise<string> {
  const token = REFRESH_TOKEN_PREFIX + randomToken(p.deps.random, SECRET_TOKEN_BYTES);
  // A token never outlives its session's `session_max_age`, so housekeeping can drop it in time.
  const expiresAtMs = Math.min(nowMs + p.config.auth.refreshTokenTtlSeconds * 1000, nowMs + p.config.auth.sessionMaxAgeSeconds * 1000);
  await tx.refreshTokens.issue({ hash: sha256Hex(token), sessionId, nowMs, expiresAtMs });
  return token;
}

const REFUSED: RotateResult = { ok: false, reuse: null };

/**
 * Rotates `token`: the first use stores and returns its successor; a retry within
 * `refresh_reuse_grace` of the rotation returns the same successor; a use after the grace ends
 * the whole session (theft: someone else already used this token). Every use of a live session's
 * token counts against `refresh_per_session`. One store operation (see RefreshTokens.rotate).
 */
export async function rotateRefreshToken(p: Pick<ProjectRuntime, "config" | "secrets" | "store">, token: string, nowMs: number): Promise<RotateResult> {
  if (!TOKEN_RE.test(token)) return REFUSED;
  const successor = successorOf(p, token);
  const auth = p.config.auth;
  return p.store.refreshTokens.rotate({
    hash: sha256Hex(token),
    rotatedTag: rotatedTagOf(token),
    successor,
    successorHash: sha256Hex(successor),
    nowMs,
    graceMs: auth.refreshReuseGraceSeconds * 1000,
    ttlMs: auth.refreshTokenTtlSeconds * 1000,
    sessionMaxAgeMs: auth.sessionMaxAgeSeconds * 1000,
    perSession: auth.rateLimits.refresh_per_session ?? null,
  });
}
