/**
 * POST /auth/change-password (SPEC 6.1). Guessing the current password with a stolen access token
 * is a password guess like any login, so it counts against the same per-account failure counter
 * (incremented before the check, taken back on success): a token thief gets `max` guesses per
 * window, not hasher speed.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { JsonObject } from "../../http/body.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { ApiError } from "../../http/errors.ts";
import { hitRateLimit, rateLimitedError, undoRateLimit } from "../../http/rate-limit.ts";
import { queuePasswordChangedMail } from "../../mail/events.ts";
import { refuseUnknownFields } from "../users/columns.ts";
import { canonicalEmail } from "../../users/email.ts";
import type { Authenticated } from "../session/authenticate.ts";
import { grantAccessToken, type AccessGrant } from "../session/access-token.ts";
import { hashPassword, verifyPassword } from "./hashing.ts";
import { checkPasswordPolicy } from "./policy.ts";

export type ChangePasswordDeps = Pick<ProjectRuntime, "config" | "deps" | "hashes" | "id" | "issuer" | "log" | "redirectOrigins" | "secrets" | "signer" | "store">;

export interface ChangePasswordInput {
  readonly currentPassword: string;
  readonly newPassword: string;
}

const FIELDS = new Set(["current_password", "new_password"]);

export function parseChangePasswordInput(p: Pick<ProjectRuntime, "config">, body: JsonObject): ChangePasswordInput {
  refuseUnknownFields(body, FIELDS, null);
  const current = body.current_password;
  if (current === undefined || current === "") {
    throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "current_password", message: '"current_password" is required.' });
  }
  if (typeof current !== "string") {
    throw new ApiError("VALIDATION_INVALID_FIELD", { field: "current_password", message: '"current_password" must be a string.' });
  }
  return { currentPassword: current, newPassword: checkPasswordPolicy(p, body.new_password, "new_password") };
}

/** Returns a fresh access token for the caller's session (the old one carries a stale password version). */
export async function changePassword(
  p: ChangePasswordDeps,
  auth: Authenticated,
  input: ChangePasswordInput,
  client: ClientMeta,
): Promise<AccessGrant> {
  const { user } = auth;
  const accountKey = canonicalEmail(user.email); // the login lockout key (what login counts on)
  const failures = await hitRateLimit(p, "login_failures_per_account", accountKey, p.deps.now());
  if (failures && !failures.allowed) {
    p.log.event("login_locked", { user_id: user.id, ...eventFields(client) });
    throw rateLimitedError(failures);
  }
  let ok: boolean;
  try {
    ({ ok } = await verifyPassword(p, input.currentPassword, user.password_hash));
  } catch (e) {
    await undoRateLimit(p, "login_failures_per_account", accountKey);
    throw e;
  }
  if (!ok) {
    p.log.event("password_change_failed", { user_id: user.id, session_id: auth.sessionId, ...eventFields(client) });
    throw new ApiError("AUTH_INVALID_CREDENTIALS", { message: "The current password is not correct." });
  }
  await undoRateLimit(p, "login_failures_per_account", accountKey);
  const newHash = await hashPassword(p, input.newPassword);

  const nowMs = p.deps.now();
  const revokeOthers = p.config.auth.revokeSessionsOnPasswordChange;
  const version = await p.store.transaction(async (tx): Promise<number | null> => {
    const v = await tx.users.setPasswordIfVersion(user.id, newHash, user.password_version, new Date(nowMs).toISOString());
    if (v === null) return null;
    if (revokeOthers) await tx.sessions.revokeUser(user.id, nowMs, { exceptSessionId: auth.sessionId, reason: "password_change" });
    // A reset link asked for before the change must not undo it.
    await tx.linkTokens.revoke({ kind: "reset", userId: user.id, nowMs });
    await queuePasswordChangedMail(p, tx, { id: user.id, email: user.email }, nowMs);
    // The session issues a new access token now: its last use is what housekeeping goes by.
    await tx.sessions.touch(auth.sessionId, nowMs);
    return v;
  });
  // The password changed under us (another change or a reset won): this token is stale now.
  if (version === null) throw new ApiError("AUTH_INVALID_TOKEN");
  p.log.event("password_changed", { user_id: user.id, session_id: auth.sessionId, ...eventFields(client), other_sessions_revoked: revokeOthers });
  return grantAccessToken(p, { ...user, password_version: version }, auth.sessionId, nowMs);
}
