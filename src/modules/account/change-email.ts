/**
 * POST /auth/change-email and its confirmation (SPEC 11).
 *
 * The confirmation link is a `verify` link token bound to the user and to the *new* address, with
 * an `_email_changes` row naming the change it confirms. GET /auth/verify therefore handles both
 * kinds: a plain verification link verifies the address it was sent to; a change link switches the
 * address. Nothing changes before the link is used. On confirm, in one transaction: the address is
 * switched (the UNIQUE index on the canonical email decides a race for one address), marked
 * verified, and the password version bumped (access tokens refused, refresh tokens kept).
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { JsonObject } from "../../http/body.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { ApiError } from "../../http/errors.ts";
import { validateRedirectUrl } from "../../config/origins.ts";
import { issueLinkToken } from "../../mail/link-tokens.ts";
import { queueTemplateMail } from "../../mail/mailer.ts";
import { originOf } from "../../mail/links.ts";
import { quoteIdent } from "../../storage/schema/sql-text.ts";
import { refuseUnknownFields } from "../users/columns.ts";
import { canonicalEmail, parseEmail } from "../users/email.ts";
import { usersOf } from "../users/repo.ts";
import type { Authenticated } from "../session/authenticate.ts";
import { verifyLinkBase } from "../verification/service.ts";
import { checkPasswordGuess, readPasswordField } from "./guess.ts";

const FIELDS: ReadonlySet<string> = new Set(["new_email", "password", "redirect_url"]);

export interface ChangeEmailInput {
  readonly email: string;
  readonly canonical: string;
  readonly password: string;
  readonly redirectUrl: string | null;
}

/**
 * Validates a change-email body for the signed-in user whose address is `currentEmail`: the new
 * address being the current one is a bad request too (400, counted toward no limit).
 */
export function parseChangeEmail(p: ProjectRuntime, body: JsonObject, currentEmail: string): ChangeEmailInput {
  refuseUnknownFields(body, FIELDS, null);
  if (body.new_email === undefined || body.new_email === null) {
    throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "new_email", message: '"new_email" is required.' });
  }
  const parsed = parseEmail(body.new_email);
  if (!parsed.ok) throw new ApiError("VALIDATION_INVALID_FIELD", { field: "new_email", message: '"new_email" is not a valid email address.' });
  const password = readPasswordField(body);
  let redirectUrl: string | null = null;
  if (body.redirect_url !== undefined && body.redirect_url !== null) {
    const r = validateRedirectUrl(body.redirect_url, p.redirectOrigins());
    if (!r.ok) throw new ApiError("VALIDATION_REDIRECT_URL", { field: "redirect_url" });
    redirectUrl = r.url;
  }
  if (parsed.canonical === canonicalEmail(currentEmail)) {
    throw new ApiError("VALIDATION_INVALID_FIELD", { field: "new_email", message: '"new_email" is the current address.' });
  }
  return { email: parsed.email, canonical: parsed.canonical, password, redirectUrl };
}

function taken(): ApiError {
  return new ApiError("VALIDATION_DUPLICATE", { field: "new_email", message: "Another account already uses this email.", suggestion: "Choose another address." });
}

export async function requestEmailChange(p: ProjectRuntime, auth: Authenticated, input: ChangeEmailInput, client: ClientMeta): Promise<void> {
  const user = auth.user;
  await checkPasswordGuess(p, user, input.password, { failedEvent: "email_change_failed", client });
  const users = usersOf(p);
  if (users.findByCanonicalEmail(input.canonical)) throw taken();

  const nowMs = p.deps.now();
  const ttlSeconds = p.config.auth.verifyTokenTtlSeconds;
  p.db
    .transaction(() => {
      const current = users.findById(user.id);
      if (!current || current.email !== user.email) throw new ApiError("AUTH_INVALID_TOKEN");
      // Only the newest request can be confirmed.
      p.db
        .query(
          `UPDATE _link_tokens SET revoked_at = ?1 WHERE used_at IS NULL AND revoked_at IS NULL
             AND id IN (SELECT token_id FROM _email_changes WHERE user_id = ?2)`,
        )
        .run(nowMs, user.id);
      const token = issueLinkToken(p, { kind: "verify", userId: user.id, email: input.email, ttlSeconds, nowMs });
      p.db
        .query("INSERT INTO _email_changes(token_id, user_id, old_email, new_email, new_canonical, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .run(token.id, user.id, user.email, input.email, input.canonical, nowMs);
      const base = input.redirectUrl ?? verifyLinkBase(p);
      queueTemplateMail(p, {
        template: "email_change_confirm",
        user: { id: user.id, email: input.email },
        link: { tokenId: token.id, base },
        expiresInSeconds: ttlSeconds,
        ...(input.redirectUrl ? { appUrl: originOf(input.redirectUrl) } : {}),
        nowMs,
      });
      queueTemplateMail(p, { template: "email_change_notice", user: { id: user.id, email: user.email }, nowMs });
    })
    .immediate();
  p.log.event("email_change_requested", { user_id: user.id, ...eventFields(client) });
}

export interface PendingEmailChange {
  readonly userId: string;
  readonly oldEmail: string;
  readonly newEmail: string;
  readonly newCanonical: string;
}

/** The change a consumed `verify` token confirms, or null for a plain verification link. */
export function emailChangeOf(p: ProjectRuntime, tokenId: string): PendingEmailChange | null {
  const r = p.db.query("SELECT user_id, old_email, new_email, new_canonical FROM _email_changes WHERE token_id = ?").get(tokenId) as
    | { user_id: string; old_email: string; new_email: string; new_canonical: string }
    | null;
  return r ? { userId: r.user_id, oldEmail: r.old_email, newEmail: r.new_email, newCanonical: r.new_canonical } : null;
}

/**
 * Applies a confirmed change. Synchronous, inside the transaction that consumed the token: a
 * refusal (address taken in between → 409, account changed since → invalid link) rolls the
 * consumption back too, so nothing changes.
 */
export function applyEmailChange(p: ProjectRuntime, change: PendingEmailChange, nowMs: number): void {
  const users = usersOf(p);
  const user = users.findById(change.userId);
  if (!user || user.email !== change.oldEmail) throw new ApiError("AUTH_INVALID_LINK_TOKEN");
  const holder = users.findByCanonicalEmail(change.newCanonical);
  if (holder && holder.id !== user.id) throw taken();
  try {
    p.db
      .query(
        `UPDATE ${quoteIdent(users.table.name)} SET "email" = ?, "_email_canonical" = ?, "email_verified" = 1,
           "_password_version" = "_password_version" + 1, "updated_at" = ? WHERE "id" = ?`,
      )
      .run(change.newEmail, change.newCanonical, new Date(nowMs).toISOString(), user.id);
  } catch (e) {
    if ((e as { code?: unknown }).code === "SQLITE_CONSTRAINT_UNIQUE") throw taken();
    throw e;
  }
  // Other pending changes and every reset link (bound to the old address) stop working.
  p.db
    .query(
      `UPDATE _link_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND used_at IS NULL AND revoked_at IS NULL
         AND (kind = 'reset' OR id IN (SELECT token_id FROM _email_changes WHERE user_id = ?2))`,
    )
    .run(nowMs, user.id);
}
