/**
 * Forgot / reset password (SPEC 6.1, 9.3, 9.4, 9.5).
 *
 * Enumeration: forgot-password answers the same body in about the same time for known and unknown
 * emails. Both paths do the same work: one user lookup and one write transaction (the per-email
 * counter); a known address only adds two small inserts to that transaction. The mail is queued,
 * never sent inline, so SMTP latency never shows in the response.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { validateRedirectUrl } from "../../config/origins.ts";
import { ApiError } from "../../http/errors.ts";
import type { JsonObject } from "../../http/body.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { consumeLinkToken } from "../../mail/link-tokens.ts";
import { queuePasswordChangedMail, queueResetMail } from "../../mail/events.ts";
import { refuseUnknownFields } from "../users/columns.ts";
import { readEmailField } from "../users/email-field.ts";
import { isBanActive } from "../../users/model.ts";
import { checkPasswordPolicy } from "../password/policy.ts";
import { hashPassword } from "../password/hashing.ts";
import { requireLinkToken, requireLiveLinkToken } from "../verification/token-input.ts";

export type ResetPasswordDeps = Pick<ProjectRuntime, "config" | "deps" | "hashes" | "id" | "log" | "redirectOrigins" | "secrets" | "store">;
export type ForgotPasswordDeps = Pick<ProjectRuntime, "config" | "deps" | "id" | "log" | "redirectOrigins" | "secrets" | "store">;

const FORGOT_FIELDS: ReadonlySet<string> = new Set(["email", "redirect_url"]);
const RESET_FIELDS: ReadonlySet<string> = new Set(["token", "new_password"]);

/**
 * When `forgot_password_per_email` is `off`, the counter is still written (with a rule that never
 * refuses) so that known and unknown emails keep doing the same database work.
 */
const UNLIMITED = { max: Number.MAX_SAFE_INTEGER, windowSeconds: 3600 };

export interface ForgotPasswordInput {
  readonly email: { readonly canonical: string };
  readonly redirectUrl: string;
}

/** Validates a forgot-password body (redirect_url first, before anything else). */
export function parseForgotPassword(p: Pick<ProjectRuntime, "redirectOrigins">, body: JsonObject): ForgotPasswordInput {
  if (body.redirect_url === undefined || body.redirect_url === null) {
    throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "redirect_url", message: '"redirect_url" is required.' });
  }
  const redirect = validateRedirectUrl(body.redirect_url, p.redirectOrigins());
  if (!redirect.ok) throw new ApiError("VALIDATION_REDIRECT_URL", { field: "redirect_url" });
  const email = readEmailField(body);
  refuseUnknownFields(body, FORGOT_FIELDS, null);
  return { email: { canonical: email.canonical }, redirectUrl: redirect.url };
}

/**
 * POST /auth/forgot-password, once parsed and past the per-IP limit (the route's). Returns normally
 * (-> 200 `{ok:true}`) whether or not the email is registered and whether or not the per-email
 * mail cap is reached.
 */
export async function requestPasswordReset(p: ForgotPasswordDeps, input: ForgotPasswordInput, client: ClientMeta): Promise<void> {
  const { email } = input;
  const nowMs = p.deps.now();
  const queued = await p.store.transaction(async (tx): Promise<string | null> => {
    const user = await tx.users.findByCanonicalEmail(email.canonical);
    const rule = p.config.auth.rateLimits.forgot_password_per_email;
    const cap = await tx.rateLimits.hit(`forgot_password_per_email:${email.canonical}`, rule ?? UNLIMITED, nowMs);
    // A banned user gets no reset mail (SPEC 12); the answer stays the same.
    if (user === null || !cap.allowed || isBanActive(await tx.users.status(user.id), nowMs)) return null;
    // The token is bound to the stored address, and the mail goes to it (not to what was typed).
    await queueResetMail(p, tx, user, input.redirectUrl, nowMs);
    return user.id;
  });
  p.log.event("password_reset_requested", { user_id: queued, mail_queued: queued !== null, ...eventFields(client) });
}

export interface ResetPasswordInput {
  readonly token: string;
  readonly password: string;
}

/** Validates a reset-password body: a token of the right shape and a new password within the policy. */
export function parseResetPassword(p: Pick<ProjectRuntime, "config">, body: JsonObject): ResetPasswordInput {
  const token = requireLinkToken(body.token);
  const password = checkPasswordPolicy(p, body.new_password, "new_password");
  refuseUnknownFields(body, RESET_FIELDS, null);
  return { token, password };
}

/**
 * POST /auth/reset-password, once parsed and past link_per_ip (the route's). The policy is checked and the new password hashed *before* the
 * token is consumed, so a refused password leaves the link usable and no await sits inside the
 * transaction. The transaction then consumes the token with one conditional update (two
 * concurrent uses: exactly one wins) and applies every effect of the reset atomically.
 */
export async function resetPassword(p: ResetPasswordDeps, input: ResetPasswordInput, client: ClientMeta): Promise<void> {
  const { token, password } = input;

  // Cheap read first: a dead token costs no hash work.
  await requireLiveLinkToken(p, "reset", token, p.deps.now());
  const hash = await hashPassword(p, password);

  const nowMs = p.deps.now();
  const nowIso = new Date(nowMs).toISOString();
  const userId = await p.store.transaction(async (tx): Promise<string> => {
    const consumed = await consumeLinkToken(tx, "reset", token, nowMs);
    if (consumed === null) throw new ApiError("AUTH_INVALID_LINK_TOKEN");
    const user = await tx.users.findById(consumed.userId);
    // Bound to the address at issuance: once the address changed, the link is dead.
    if (user === null || user.email !== consumed.email) throw new ApiError("AUTH_INVALID_LINK_TOKEN");
    await tx.users.setPassword(user.id, hash, nowIso);
    // Following the link proved control of the mailbox.
    await tx.users.markEmailVerified(user.id, nowIso);
    await tx.linkTokens.revoke({ kind: "reset", userId: user.id, nowMs, exceptId: consumed.id });
    if (p.config.auth.revokeSessionsOnPasswordReset) {
      await tx.sessions.revokeUser(user.id, nowMs, { reason: "password_reset" });
    } else {
      // Whatever the settings say: a session opened while the address was unverified may belong
      // to someone who signed up with this address before its owner did (pre-registration
      // takeover). The reset proves the mailbox; those sessions end.
      await tx.sessions.revokeUnverified(user.id, nowMs, "password_reset_unverified");
    }
    await queuePasswordChangedMail(p, tx, { id: user.id, email: user.email }, nowMs);
    return user.id;
  });
  p.log.event("password_reset_completed", { user_id: userId, ...eventFields(client) });
}
