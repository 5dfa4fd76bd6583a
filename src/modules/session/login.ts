/**
 * POST /auth/login (SPEC 6.1, 9.4, 9.5). Enumeration resistance: an unknown email and a wrong
 * password take the same path — the same counters, one hash verification (against a dummy hash
 * for an unknown email), the same 401 body.
 *
 * Lockout: the per-account failure counter (keyed on the canonical email, so it exists for
 * unknown accounts too) is incremented atomically *before* the password is checked and taken
 * back on success. N parallel guesses therefore count N, and at most `max` of them ever reach
 * the hasher; once over, even the correct password gets 429 until the window ends.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { JsonObject } from "../../http/body.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { ApiError } from "../../http/errors.ts";
import { hitRateLimit, rateLimitedError, undoRateLimit } from "../../http/rate-limit.ts";
import { readEmailField } from "../users/email-field.ts";
import { refuseUnknownFields } from "../users/columns.ts";
import { isBanActive, userModelOf, type UserRow } from "../../users/model.ts";
import { hashPassword, verifyDummyPassword, verifyPassword } from "../password/hashing.ts";
import { grantStartedSession, startSession, type SessionTokens } from "./start.ts";

export type LoginDeps = Pick<ProjectRuntime, "config" | "deps" | "hashes" | "id" | "issuer" | "log" | "signer" | "store">;

export interface LoginInput {
  readonly email: string;
  readonly canonical: string;
  readonly password: string;
}

const LOGIN_FIELDS = new Set(["email", "password"]);

/** Validates the login body; a malformed request counts toward no limit. */
export function parseLoginInput(body: JsonObject): LoginInput {
  refuseUnknownFields(body, LOGIN_FIELDS, null);
  const email = readEmailField(body);
  const password = body.password;
  if (password === undefined || password === "") {
    throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "password", message: '"password" is required.' });
  }
  if (typeof password !== "string") throw new ApiError("VALIDATION_INVALID_FIELD", { field: "password", message: '"password" must be a string.' });
  return { email: email.email, canonical: email.canonical, password };
}

export interface LoginResult extends SessionTokens {
  readonly user: Record<string, unknown>;
}

export async function login(p: LoginDeps, input: LoginInput, client: ClientMeta): Promise<LoginResult> {
  const failures = await hitRateLimit(p, "login_failures_per_account", input.canonical, p.deps.now());
  const user = await p.store.users.findByCanonicalEmail(input.canonical);
  if (failures && !failures.allowed) {
    p.log.event("login_locked", { user_id: user?.id ?? null, ...eventFields(client) });
    throw rateLimitedError(failures);
  }

  let ok = false;
  let needsRehash = false;
  try {
    if (user) ({ ok, needsRehash } = await verifyPassword(p, input.password, user.password_hash));
    else await verifyDummyPassword(p, input.password);
  } catch (e) {
    // Nothing was verified (hash queue full): this attempt is no guess, so it is not counted.
    await undoRateLimit(p, "login_failures_per_account", input.canonical);
    throw e;
  }

  if (!user || !ok) {
    p.log.event("login_failed", { user_id: user?.id ?? null, ...eventFields(client), reason: user ? "wrong_password" : "unknown_email" });
    if (failures && failures.count === p.config.auth.rateLimits.login_failures_per_account?.max) {
      p.log.event("lockout", { user_id: user?.id ?? null, ...eventFields(client), retry_after_seconds: failures.retryAfterSeconds });
    }
    throw new ApiError("AUTH_INVALID_CREDENTIALS");
  }
  await undoRateLimit(p, "login_failures_per_account", input.canonical);

  // Only after a correct password, so a ban is no oracle: a wrong password gets the usual 401.
  if (isBanActive(await p.store.users.status(user.id), p.deps.now())) {
    p.log.event("login_banned", { user_id: user.id, ...eventFields(client) });
    throw new ApiError("AUTH_USER_BANNED");
  }
  if (p.config.auth.requireVerifiedEmail && !user.email_verified) {
    p.log.event("login_refused_unverified", { user_id: user.id, ...eventFields(client) });
    throw new ApiError("AUTH_EMAIL_NOT_VERIFIED");
  }
  if (needsRehash) await upgradeHash(p, user, input.password, client);

  const nowMs = p.deps.now();
  const session = await p.store.transaction(async (tx) => {
    // Again inside the transaction: a ban committed while the password was being verified wins.
    if (isBanActive(await tx.users.status(user.id), nowMs)) throw new ApiError("AUTH_USER_BANNED");
    await tx.users.recordLogin(user.id, nowMs);
    return startSession(p, tx, user, nowMs, client);
  });
  p.log.event("login", { user_id: user.id, session_id: session.sessionId, ...eventFields(client) });
  return { ...grantStartedSession(p, user, session, nowMs), user: userModelOf(p).toPublic(user) };
}

/**
 * Replaces a hash from another algorithm or with other parameters by one from the configured
 * hasher. Best effort: a busy hasher or a concurrent password change must not fail the login,
 * and the update only lands if the stored hash is still the one just verified.
 */
async function upgradeHash(p: Pick<ProjectRuntime, "hashes" | "log" | "store">, user: UserRow, password: string, client: ClientMeta): Promise<void> {
  try {
    const fresh = await hashPassword(p, password);
    if (await p.store.users.replaceHash(user.id, user.password_hash, fresh)) p.log.event("password_rehashed", { user_id: user.id, ...eventFields(client) });
  } catch (e) {
    p.log.warn("password rehash skipped", { user_id: user.id, reason: e instanceof ApiError ? e.code : "error" });
  }
}
