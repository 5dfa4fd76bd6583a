/**
 * One-time link tokens (SPEC 7.3) for password resets and email verification.
 *
 * The token is never stored: it is `base64url(HMAC-SHA256(link key, id))` where `id` is 32 random
 * bytes and the link key is a per-project subkey of the server key (which lives outside every
 * database). The table keeps the id and SHA-256 of the token; the outbox keeps only the id, and the
 * sender rebuilds the token at send time. A stolen database file therefore yields no usable link.
 */
import { hmacSha256, sha256Hex } from "../crypto/digest.ts";
import { randomToken, SECRET_TOKEN_BYTES, toBase64Url, TOKEN_TEXT_PATTERN } from "../crypto/random.ts";
import type { ProjectRuntime } from "../projects/runtime.ts";

export type LinkTokenKind = "reset" | "verify";

/** Random bytes behind a token id (and so behind the token's entropy): SPEC 7.3 asks for >= 32. */
const TOKEN_ID_BYTES = SECRET_TOKEN_BYTES;
/** base64url of a 32-byte HMAC. Anything else cannot be one of our tokens. */
const TOKEN_PATTERN = new RegExp(`^${TOKEN_TEXT_PATTERN}$`);

export interface IssuedLinkToken {
  readonly id: string;
  readonly expiresAtMs: number;
}

export interface ConsumedLinkToken {
  readonly id: string;
  readonly userId: string;
  /** The address the link was sent to; callers check it is still the user's address. */
  readonly email: string;
}

/** Rebuilds the clear token from its id (at send time). */
export function linkTokenFor(p: ProjectRuntime, id: string): string {
  return toBase64Url(hmacSha256(p.secrets.link, id));
}

/** True when `raw` has the shape of a link token (cheap pre-check; says nothing about validity). */
export function looksLikeLinkToken(raw: string): boolean {
  return TOKEN_PATTERN.test(raw);
}

/** Creates a token row (id + hash only). Synchronous: meant to run inside the caller's transaction. */
export function issueLinkToken(
  p: ProjectRuntime,
  args: { kind: LinkTokenKind; userId: string; email: string; ttlSeconds: number; nowMs: number },
): IssuedLinkToken {
  const id = randomToken(p.deps.random, TOKEN_ID_BYTES);
  const expiresAtMs = args.nowMs + args.ttlSeconds * 1000;
  p.db
    .query(
      "INSERT INTO _link_tokens(id, token_hash, kind, user_id, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .run(id, sha256Hex(linkTokenFor(p, id)), args.kind, args.userId, args.email, args.nowMs, expiresAtMs);
  return { id, expiresAtMs };
}

/**
 * Consumes a token with ONE conditional update: only a row that is unused, unrevoked and unexpired
 * changes, so two concurrent uses can never both succeed. Returns null for anything else.
 */
export function consumeLinkToken(p: ProjectRuntime, kind: LinkTokenKind, token: string, nowMs: number): ConsumedLinkToken | null {
  if (!looksLikeLinkToken(token)) return null;
  const rows = p.db
    .query(
      `UPDATE _link_tokens SET used_at = ?1
        WHERE token_hash = ?2 AND kind = ?3 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?1
        RETURNING id, user_id, email`,
    )
    .all(nowMs, sha256Hex(token), kind) as { id: string; user_id: string; email: string }[];
  if (rows.length !== 1) return null;
  return { id: rows[0].id, userId: rows[0].user_id, email: rows[0].email };
}

/**
 * A token of `kind` that was already used (not revoked, not expired): what a repeated click on a
 * verification link finds. A read only.
 */
export function findUsedLinkToken(p: ProjectRuntime, kind: LinkTokenKind, token: string, nowMs: number): ConsumedLinkToken | null {
  if (!looksLikeLinkToken(token)) return null;
  const row = p.db
    .query(
      `SELECT id, user_id, email FROM _link_tokens
        WHERE token_hash = ? AND kind = ? AND used_at IS NOT NULL AND revoked_at IS NULL AND expires_at > ?`,
    )
    .get(sha256Hex(token), kind, nowMs) as { id: string; user_id: string; email: string } | null;
  return row === null ? null : { id: row.id, userId: row.user_id, email: row.email };
}

/**
 * Revokes the user's live tokens of one kind, except `exceptId` and except pending email-change
 * confirmations (a new verification link must not cancel a change). Returns how many were revoked.
 */
export function revokeLinkTokens(
  p: ProjectRuntime,
  args: { kind: LinkTokenKind; userId: string; nowMs: number; exceptId?: string },
): number {
  return p.db
    .query(
      `UPDATE _link_tokens SET revoked_at = ?1
        WHERE user_id = ?2 AND kind = ?3 AND used_at IS NULL AND revoked_at IS NULL AND id <> ?4
          AND id NOT IN (SELECT token_id FROM _email_changes WHERE user_id = ?2)`,
    )
    .run(args.nowMs, args.userId, args.kind, args.exceptId ?? "").changes;
}

/** Whether the token with this id could still be used (the sender skips dead links). */
export function isLinkTokenLive(p: ProjectRuntime, id: string, nowMs: number): boolean {
  const row = p.db
    .query("SELECT 1 AS live FROM _link_tokens WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?")
    .get(id, nowMs);
  return row !== null;
}

/** Whether `token` is a live token of `kind` (a read only; consuming is still the conditional update). */
export function isLinkTokenHashLive(p: ProjectRuntime, kind: LinkTokenKind, token: string, nowMs: number): boolean {
  if (!looksLikeLinkToken(token)) return false;
  const row = p.db
    .query(
      "SELECT 1 AS live FROM _link_tokens WHERE token_hash = ? AND kind = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
    )
    .get(sha256Hex(token), kind, nowMs);
  return row !== null;
}

/** Deletes token rows that expired before `beforeMs` (used or not, they can never work again). */
export function pruneLinkTokens(p: ProjectRuntime, beforeMs: number): number {
  return p.db.query("DELETE FROM _link_tokens WHERE expires_at < ?").run(beforeMs).changes;
}
