/**
 * POST /auth/signup (SPEC 6.1). Order matters:
 *  1. validate everything (unknown fields, email, password policy, custom columns) — a malformed
 *     request is 400 and counts toward no limit, and costs no hash;
 *  2. (the route) count the request against signup_per_ip (src/modules/route-table.ts);
 *  3. hash the password — before the transaction, which must await nothing but store
 *     operations (it holds the write lock);
 *  4. one transaction: insert the user (the UNIQUE index on the canonical email is
 *     what decides a duplicate, so concurrent signups with one email create exactly one account),
 *     queue the verification email, open the first session.
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { JsonObject } from "../../http/body.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { ApiError } from "../../http/errors.ts";
import { readEmailField } from "../users/email-field.ts";
import { readColumnValues, refuseUnknownFields, writableColumns } from "../users/columns.ts";
import { constraintErrorToApi } from "../users/constraint-errors.ts";
import { checkRefTargets } from "../users/refs.ts";
import { newUserValues, userModelOf, type SqlValue } from "../../users/model.ts";
import { checkPasswordPolicy } from "../password/policy.ts";
import { hashPassword } from "../password/hashing.ts";
import { grantStartedSession, startSession, type SessionTokens } from "../session/start.ts";
import { queueVerificationMail } from "../../mail/events.ts";

export type SignupDeps = Pick<ProjectRuntime, "config" | "deps" | "hashes" | "id" | "issuer" | "log" | "redirectOrigins" | "secrets" | "signer" | "store">;

export interface SignupInput {
  readonly email: string;
  readonly canonical: string;
  readonly password: string;
  readonly columns: Record<string, SqlValue>;
}

export function parseSignupInput(p: Pick<ProjectRuntime, "config" | "deps" | "id">, body: JsonObject): SignupInput {
  const table = userModelOf(p).table;
  const accepted = new Set(["email", "password", ...writableColumns(table).map((c) => c.name)]);
  refuseUnknownFields(body, accepted, table);
  const email = readEmailField(body);
  const password = checkPasswordPolicy(p, body.password, "password");
  const columns = readColumnValues(table, body, { mode: "create", nowMs: p.deps.now(), random: p.deps.random });
  return { email: email.email, canonical: email.canonical, password, columns };
}

export type SignupResult = { user: Record<string, unknown> } | (SessionTokens & { user: Record<string, unknown> });

export async function signup(p: SignupDeps, input: SignupInput, client: ClientMeta): Promise<SignupResult> {
  const users = userModelOf(p);
  // Saves the hash work for an obvious duplicate; the UNIQUE index below stays the authority.
  if (await p.store.users.findByCanonicalEmail(input.canonical)) throw duplicateEmail();
  const passwordHash = await hashPassword(p, input.password);

  const nowMs = p.deps.now();
  const nowIso = new Date(nowMs).toISOString();
  const withTokens = !p.config.auth.requireVerifiedEmail;
  let created;
  try {
    created = await p.store.transaction(async (tx) => {
      await checkRefTargets(tx, users.table, input.columns);
      const user = await tx.users.insert(
        newUserValues(p, { email: input.email, canonical: input.canonical, passwordHash, emailVerified: false, columns: input.columns }, nowIso),
      );
      if (users.table.verifyEmail) await queueVerificationMail(p, tx, { id: user.id, email: user.email }, nowMs);
      return { user, session: withTokens ? await startSession(p, tx, user, nowMs, client) : null };
    });
  } catch (e) {
    const mapped = constraintErrorToApi(e, users.table);
    if (mapped?.code === "VALIDATION_DUPLICATE" && mapped.field === "email") throw duplicateEmail();
    throw mapped ?? e;
  }
  p.log.event("signup", { user_id: created.user.id, session_id: created.session?.sessionId ?? null, ...eventFields(client) });
  const user = users.toPublic(created.user);
  return created.session ? { ...grantStartedSession(p, created.user, created.session, nowMs), user } : { user };
}

function duplicateEmail(): ApiError {
  return new ApiError("VALIDATION_DUPLICATE", {
    field: "email",
    message: "An account with this email already exists.",
    suggestion: "Log in instead, or use POST /auth/forgot-password if the password is lost.",
  });
}
