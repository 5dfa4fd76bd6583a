/**
 * Email verification (SPEC 6.2): issuing verification links, consuming them, and resending.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { ApiError } from "../../http/errors.ts";
import type { JsonObject } from "../../http/body.ts";
import { enforceRateLimit } from "../../http/rate-limit.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { consumeLinkToken, findUsedLinkToken, isLinkTokenHashLive } from "../../mail/link-tokens.ts";
import { queueVerificationMail } from "../../mail/events.ts";
import { refuseUnknownFields } from "../users/columns.ts";
import { readEmailField } from "../users/email-field.ts";
import type { UserRow } from "../../users/model.ts";
import type { StoreOps } from "../../storage/store.ts";
import { applyEmailChange } from "../account/change-email.ts";

export type ResendVerificationDeps = Pick<ProjectRuntime, "config" | "deps" | "id" | "log" | "redirectOrigins" | "secrets" | "store">;

const RESEND_FIELDS: ReadonlySet<string> = new Set(["email"]);
const NO_FIELDS: ReadonlySet<string> = new Set();
/** With the per-user rule `off`, the counter is still written so every path does the same work. */
const UNLIMITED = { max: Number.MAX_SAFE_INTEGER, windowSeconds: 3600 };

/**
 * Whether a used verification token still answers success: not revoked, not expired, and the
 * address it verified is still the user's verified email (SPEC 6.2).
 */
async function isAlreadyVerifiedBy(ops: StoreOps, token: string, nowMs: number): Promise<{ userId: string } | null> {
  const used = await findUsedLinkToken(ops, "verify", token, nowMs);
  if (used === null) return null;
  const user = await ops.users.findById(used.userId);
  return user !== null && user.email === used.email && user.email_verified ? { userId: user.id } : null;
}

/**
 * GET /auth/verify: consumes a verification token (one conditional update, so of concurrent
 * uses exactly one succeeds) and marks the address verified. Mail scanners open links before
 * people do, so a token that was already used answers success ("already verified") until it
 * expires, as long as the address it verified is still the user's verified email. Throws
 * AUTH_INVALID_LINK_TOKEN for an unknown, expired or superseded token, or when the user's
 * address changed since.
 */
export async function verifyEmail(p: Pick<ProjectRuntime, "deps" | "log" | "store">, token: string, client: ClientMeta): Promise<{ alreadyVerified: boolean }> {
  const nowMs = p.deps.now();
  const result = await p.store.transaction(async (tx): Promise<{ userId: string; alreadyVerified: boolean; changed: boolean }> => {
    const consumed = await consumeLinkToken(tx, "verify", token, nowMs);
    if (consumed === null) {
      const already = await isAlreadyVerifiedBy(tx, token, nowMs);
      if (already === null) throw new ApiError("AUTH_INVALID_LINK_TOKEN");
      return { userId: already.userId, alreadyVerified: true, changed: false };
    }
    // A confirmation link of POST /auth/change-email (SPEC 11) rather than a plain verification.
    const change = await tx.linkTokens.emailChangeOf(consumed.id);
    if (change) {
      await applyEmailChange(tx, change, nowMs);
      return { userId: change.userId, alreadyVerified: false, changed: true };
    }
    const user = await tx.users.findById(consumed.userId);
    if (user === null || user.email !== consumed.email) throw new ApiError("AUTH_INVALID_LINK_TOKEN");
    await tx.users.markEmailVerified(user.id, new Date(nowMs).toISOString());
    await tx.linkTokens.revoke({ kind: "verify", userId: user.id, nowMs, exceptId: consumed.id });
    return { userId: user.id, alreadyVerified: false, changed: false };
  });
  if (!result.alreadyVerified) p.log.event(result.changed ? "email_changed" : "email_verified", { user_id: result.userId, ...eventFields(client) });
  return { alreadyVerified: result.alreadyVerified };
}

/**
 * HEAD /auth/verify (mail scanners): answers what GET would, spending nothing. Throws
 * AUTH_INVALID_LINK_TOKEN when GET would fail.
 */
export async function checkVerifyLink(p: Pick<ProjectRuntime, "deps" | "store">, token: string, client: ClientMeta): Promise<void> {
  const nowMs = p.deps.now();
  if (await isLinkTokenHashLive(p.store, "verify", token, nowMs)) return;
  if ((await isAlreadyVerifiedBy(p.store, token, nowMs)) === null) throw new ApiError("AUTH_INVALID_LINK_TOKEN");
}

/**
 * POST /auth/resend-verification by a signed-in user. Older links stop working. The per-user limit
 * counts only resends (the signup mail does not count).
 */
export async function resendVerificationForUser(p: ResendVerificationDeps, user: UserRow, body: JsonObject, client: ClientMeta): Promise<{ alreadyVerified: boolean }> {
  // The token says who: the body takes no fields (an empty body or `{}`).
  refuseUnknownFields(body, NO_FIELDS, null);
  if (user.email_verified) return { alreadyVerified: true };
  const nowMs = p.deps.now();
  await p.store.transaction(async (tx) => {
    // Inside the transaction: a refusal rolls back with it, and the counter and the mail move together.
    await enforceRateLimit(p, "resend_verification_per_user", user.id, nowMs, tx.rateLimits);
    await queueVerificationMail(p, tx, { id: user.id, email: user.email }, nowMs);
  });
  p.log.event("verification_resent", { user_id: user.id, ...eventFields(client) });
  return { alreadyVerified: false };
}

/** Validates the `{email}` body of POST /auth/resend-verification without a token. */
export function parseResendByEmail(body: JsonObject): { readonly canonical: string } {
  const email = readEmailField(body);
  refuseUnknownFields(body, RESEND_FIELDS, null);
  return { canonical: email.canonical };
}

/**
 * POST /auth/resend-verification with `{email}` and no token (only with require_verified_email,
 * when the user cannot log in to get one). Always returns normally: the answer is the same for
 * unknown, verified and rate-limited addresses. Both paths run one write transaction (the counter),
 * so their timing matches too.
 */
export async function resendVerificationByEmail(p: ResendVerificationDeps, email: { readonly canonical: string }, client: ClientMeta): Promise<void> {
  // Before this, the route counts resend_verification_per_ip, like forgot-password: one client
  // cannot walk through addresses (each leaving a counter row) or queue mails for many users.
  const nowMs = p.deps.now();
  const queuedFor = await p.store.transaction(async (tx): Promise<string | null> => {
    const user = await tx.users.findByCanonicalEmail(email.canonical);
    const key = user ? user.id : `email:${email.canonical}`;
    const rule = p.config.auth.rateLimits.resend_verification_per_user ?? UNLIMITED;
    const cap = await tx.rateLimits.hit(`resend_verification_per_user:${key}`, rule, nowMs);
    if (user === null || user.email_verified || !cap.allowed) return null;
    await queueVerificationMail(p, tx, { id: user.id, email: user.email }, nowMs);
    return user.id;
  });
  p.log.event("verification_resend_requested", { user_id: queuedFor, mail_queued: queuedFor !== null, ...eventFields(client) });
}
