/**
 * A password asked for again by a signed-in user (change-email, delete account) is a guess like a
 * login: it counts against `login_failures_per_account` (incremented before the check, taken back
 * on success), so a stolen access token gets only `max` guesses per window, and a locked account
 * gets 429 here too.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { ApiError } from "../../http/errors.ts";
import { hitRateLimit, rateLimitedError, undoRateLimit } from "../../http/rate-limit.ts";
import type { UserRow } from "../../users/model.ts";
import { canonicalEmail } from "../../users/email.ts";
import { verifyPassword } from "../password/hashing.ts";

export type PasswordGuessDeps = Pick<ProjectRuntime, "config" | "deps" | "hashes" | "log" | "store">;

export async function checkPasswordGuess(
  p: PasswordGuessDeps,
  user: UserRow,
  password: string,
  opts: { failedEvent: string; client: ClientMeta },
): Promise<void> {
  const canonical = canonicalEmail(user.email);
  const failures = await hitRateLimit(p, "login_failures_per_account", canonical, p.deps.now());
  if (failures && !failures.allowed) {
    p.log.event("login_locked", { user_id: user.id, ...eventFields(opts.client) });
    throw rateLimitedError(failures);
  }
  let ok = false;
  try {
    ({ ok } = await verifyPassword(p, password, user.password_hash));
  } catch (e) {
    await undoRateLimit(p, "login_failures_per_account", canonical);
    throw e;
  }
  if (!ok) {
    p.log.event(opts.failedEvent, { user_id: user.id, ...eventFields(opts.client) });
    throw new ApiError("AUTH_INVALID_CREDENTIALS", { message: "The password is wrong." });
  }
  await undoRateLimit(p, "login_failures_per_account", canonical);
}

/** `password` must be a non-empty string (no policy: it is checked against the stored hash). */
export function readPasswordField(body: Readonly<Record<string, unknown>>, field = "password"): string {
  const v = body[field];
  if (v === undefined || v === null || v === "") throw new ApiError("VALIDATION_REQUIRED_FIELD", { field, message: `"${field}" is required.` });
  if (typeof v !== "string") throw new ApiError("VALIDATION_INVALID_FIELD", { field, message: `"${field}" must be a string.` });
  return v;
}
