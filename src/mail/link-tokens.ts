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
import type { StoreOps } from "../storage/store.ts";
import type { LinkTokenKind, LinkTokenRow } from "../storage/link-tokens.ts";

export type { LinkTokenKind } from "../storage/link-tokens.ts";
/** A consumed (or used) token: `email` is the address the link was sent to; callers check it is still the user's. */
export type ConsumedLinkToken = LinkTokenRow;

/** Random bytes behind a token id (and so behind the token's entropy): SPEC 7.3 asks for >= 32. */
const TOKEN_ID_BYTES = SECRET_TOKEN_BYTES;
/** base64url of a 32-byte HMAC. Anything else cannot be one of our tokens. */
const TOKEN_PATTERN = new RegExp(`^${TOKEN_TEXT_PATTERN}$`);

export interface IssuedLinkToken {
  readonly id: string;
  readonly expiresAtMs: number;
}

/** Rebuilds the clear token from its id (at send time). */
export function linkTokenFor(p: Pick<ProjectRuntime, "secrets">, id: string): string {
  return toBase64Url(hmacSha256(p.secrets.link, id));
}

/** True when `raw` has the shape of a link token (cheap pre-check; says nothing about validity). */
export function looksLikeLinkToken(raw: string): boolean {
  return TOKEN_PATTERN.test(raw);
}

/** Creates a token row (id + hash only), through the caller's transaction `tx`. */
export async function issueLinkToken(
  p: Pick<ProjectRuntime, "secrets" | "deps">,
  tx: Pick<StoreOps, "linkTokens">,
  args: { kind: LinkTokenKind; userId: string; email: string; ttlSeconds: number; nowMs: number },
): Promise<IssuedLinkToken> {
  const id = randomToken(p.deps.random, TOKEN_ID_BYTES);
  const expiresAtMs = args.nowMs + args.ttlSeconds * 1000;
  await tx.linkTokens.issue({ id, hash: sha256Hex(linkTokenFor(p, id)), kind: args.kind, userId: args.userId, email: args.email, nowMs: args.nowMs, expiresAtMs });
  return { id, expiresAtMs };
}

/**
 * Consumes a token with ONE conditional store operation: only a row that is unused, unrevoked and
 * unexpired changes, so two concurrent uses can never both succeed. Returns null for anything else.
 */
export async function consumeLinkToken(
  tx: Pick<StoreOps, "linkTokens">,
  kind: LinkTokenKind,
  token: string,
  nowMs: number,
): Promise<ConsumedLinkToken | null> {
  if (!looksLikeLinkToken(token)) return null;
  return tx.linkTokens.consume(kind, sha256Hex(token), nowMs);
}

/**
 * A token of `kind` that was already used (not revoked, not expired): what a repeated click on a
 * verification link finds. A read only.
 */
export async function findUsedLinkToken(ops: Pick<StoreOps, "linkTokens">, kind: LinkTokenKind, token: string, nowMs: number): Promise<ConsumedLinkToken | null> {
  if (!looksLikeLinkToken(token)) return null;
  return ops.linkTokens.findUsed(kind, sha256Hex(token), nowMs);
}

/** Whether `token` is a live token of `kind` (a read only; consuming is still the conditional update). */
export async function isLinkTokenHashLive(ops: Pick<StoreOps, "linkTokens">, kind: LinkTokenKind, token: string, nowMs: number): Promise<boolean> {
  if (!looksLikeLinkToken(token)) return false;
  return ops.linkTokens.isLiveByHash(kind, sha256Hex(token), nowMs);
}
