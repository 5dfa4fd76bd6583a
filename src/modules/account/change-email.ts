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
import { queueEmailChangeConfirmMail, queueEmailChangeNoticeMail } from "../../mail/events.ts";
import { refuseUnknownFields } from "../users/columns.ts";
import { canonicalEmail, parseEmail } from "../../users/email.ts";
import type { StoreOps } from "../../storage/store.ts";
import type { PendingEmailChange } from "../../storage/link-tokens.ts";
import type { Authenticated } from "../session/authenticate.ts";
import { checkPasswordGuess, readPasswordField } from "./guess.ts";

export type ChangeEmailDeps = Pick<ProjectRuntime, "config" | "deps" | "hashes" | "id" | "log" | "redirectOrigins" | "secrets" | "store">;

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
export function parseChangeEmail(p: Pick<ProjectRuntime, "redirectOrigins">, body: JsonObject, currentEmail: string): ChangeEmailInput {
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

export async function requestEmailChange(p: ChangeEmailDeps, auth: Authenticated, input: ChangeEmailInput, client: ClientMeta): Promise<void> {
  const user = auth.user;
  await checkPasswordGuess(p, user, input.password, { failedEvent: "email_change_failed", client });
  if (await p.store.users.findByCanonicalEmail(input.canonical)) throw taken();

  const nowMs = p.deps.now();
  await p.store.transaction(async (tx) => {
    const current = await tx.users.findById(user.id);
    if (!current || current.email !== user.email) throw new ApiError("AUTH_INVALID_TOKEN");
    const token = await queueEmailChangeConfirmMail(p, tx, { userId: user.id, newEmail: input.email, redirectUrl: input.redirectUrl, nowMs });
    // Only the newest request can be confirmed: older pending changes are revoked with this one's record.
    await tx.linkTokens.addEmailChange({ tokenId: token.id, userId: user.id, oldEmail: user.email, newEmail: input.email, newCanonical: input.canonical, nowMs });
    await queueEmailChangeNoticeMail(p, tx, { id: user.id, email: user.email }, nowMs);
  });
  p.log.event("email_change_requested", { user_id: user.id, ...eventFields(client) });
}

export type { PendingEmailChange } from "../../storage/link-tokens.ts";

/**
 * Applies a confirmed change, inside the transaction `tx` that consumed the token: a refusal
 * (address taken in between → 409, account changed since → invalid link) rolls the consumption
 * back too, so nothing changes.
 */
export async function applyEmailChange(tx: StoreOps, change: PendingEmailChange, nowMs: number): Promise<void> {
  const user = await tx.users.findById(change.userId);
  if (!user || user.email !== change.oldEmail) throw new ApiError("AUTH_INVALID_LINK_TOKEN");
  const holder = await tx.users.findByCanonicalEmail(change.newCanonical);
  if (holder && holder.id !== user.id) throw taken();
  if ((await tx.users.changeEmail(user.id, change.newEmail, change.newCanonical, new Date(nowMs).toISOString())) === "taken") throw taken();
  // Other pending changes and every reset link (bound to the old address) stop working.
  await tx.linkTokens.revokeAfterEmailChange(user.id, nowMs);
}
