/**
 * The admin users API (SPEC 12). Admin writes use the same column validation as signup and
 * PATCH /auth/me (users/columns.ts), plus readonly and hidden columns. Every change is one
 * transaction and one audit event (`admin.*`, through the project logger).
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import type { JsonObject } from "../../http/body.ts";
import { eventFields, type ClientMeta } from "../../http/client-meta.ts";
import { ApiError } from "../../http/errors.ts";
import { validateRedirectUrl } from "../../config/origins.ts";
import { readColumnValues, refuseUnknownFields } from "../users/columns.ts";
import { constraintErrorToApi } from "../users/constraint-errors.ts";
import { checkRefTargets } from "../users/refs.ts";
import { canonicalEmail, parseEmail } from "../users/email.ts";
import { newUserValues, usersOf, type SqlValue, type UserRow } from "../users/repo.ts";
import { clearBan, setBan, userStatusOf } from "../users/status.ts";
import { deleteUser } from "../users/delete.ts";
import { checkPasswordPolicy } from "../password/policy.ts";
import { hashPassword } from "../password/hashing.ts";
import { revokeSession, revokeUserSessions } from "../session/sessions.ts";
import { listLiveSessions, liveSessionOwner, type SessionView } from "../session/list.ts";
import { queueResetEmail } from "../password-reset/service.ts";
import { toAdminUser } from "./view.ts";

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/**
 * Stored for a user created without a password: no installed hasher recognizes it, so a login
 * costs one dummy verification and gets the usual 401 until a reset sets a password.
 */
const NO_PASSWORD = "!no-password";
const MAX_REASON = 500;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** A path id that is not a UUID is a malformed request (400), not an unknown user. */
export function readUserId(raw: string): string {
  if (!UUID_RE.test(raw)) throw new ApiError("VALIDATION_INVALID_FIELD", { field: "id", message: "The user id must be a UUID." });
  return raw.toLowerCase();
}

function requireUser(p: ProjectRuntime, id: string): UserRow {
  const user = usersOf(p).findById(id);
  if (!user) throw new ApiError("USER_NOT_FOUND");
  return user;
}

function view(p: ProjectRuntime, user: UserRow): Record<string, unknown> {
  const nowMs = p.deps.now();
  return toAdminUser(p, user, userStatusOf(p, user.id), nowMs);
}

function readEmail(body: JsonObject, field: string): { email: string; canonical: string } {
  const parsed = parseEmail(body[field]);
  if (!parsed.ok) throw new ApiError("VALIDATION_INVALID_FIELD", { field, message: `"${field}" is not a valid email address.` });
  return { email: parsed.email, canonical: parsed.canonical };
}

function readBoolField(body: JsonObject, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new ApiError("VALIDATION_INVALID_FIELD", { field, message: `"${field}" must be true or false.` });
  return v;
}

function mapWriteError(e: unknown, p: ProjectRuntime): unknown {
  const mapped = constraintErrorToApi(e, usersOf(p).table);
  return mapped ?? e;
}

export function getUser(p: ProjectRuntime, rawId: string): Record<string, unknown> {
  return view(p, requireUser(p, readUserId(rawId)));
}

export interface CreateUserInput {
  readonly email: string;
  readonly canonical: string;
  readonly password: string | null;
  readonly emailVerified: boolean;
  readonly columns: Record<string, SqlValue>;
}

export function parseCreateUser(p: ProjectRuntime, body: JsonObject): CreateUserInput {
  const table = usersOf(p).table;
  refuseUnknownFields(body, new Set(["email", "password", "email_verified", ...table.columns.map((c) => c.name)]), table);
  if (body.email === undefined || body.email === null) throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "email", message: '"email" is required.' });
  const email = readEmail(body, "email");
  const password = body.password === undefined || body.password === null ? null : checkPasswordPolicy(p, body.password, "password");
  const emailVerified = readBoolField(body, "email_verified") ?? false;
  const columns = readColumnValues(table, body, { mode: "create", nowMs: p.deps.now(), random: p.deps.random, admin: true });
  return { email: email.email, canonical: email.canonical, password, emailVerified, columns };
}

export async function createUser(p: ProjectRuntime, input: CreateUserInput, client: ClientMeta): Promise<Record<string, unknown>> {
  const users = usersOf(p);
  if (users.findByCanonicalEmail(input.canonical)) throw duplicateEmail();
  const hash = input.password === null ? NO_PASSWORD : await hashPassword(p, input.password);
  const nowIso = new Date(p.deps.now()).toISOString();
  let user: UserRow;
  try {
    user = p.db
      .transaction(() => {
        checkRefTargets(p, users.table, input.columns);
        return users.insert(
          newUserValues(p, { email: input.email, canonical: input.canonical, passwordHash: hash, emailVerified: input.emailVerified, columns: input.columns }, nowIso),
        );
      })
      .immediate();
  } catch (e) {
    const mapped = mapWriteError(e, p);
    if (mapped instanceof ApiError && mapped.code === "VALIDATION_DUPLICATE" && mapped.field === "email") throw duplicateEmail();
    throw mapped;
  }
  p.log.event("admin.user_created", { user_id: user.id, with_password: input.password !== null, ...eventFields(client) });
  return view(p, user);
}

function duplicateEmail(): ApiError {
  return new ApiError("VALIDATION_DUPLICATE", { field: "email", message: "Another account already has this email." });
}

export interface PatchUserInput {
  readonly email?: { email: string; canonical: string };
  readonly emailVerified?: boolean;
  readonly columns: Record<string, SqlValue>;
}

export function parsePatchUser(p: ProjectRuntime, body: JsonObject): PatchUserInput {
  const table = usersOf(p).table;
  refuseUnknownFields(body, new Set(["email", "email_verified", ...table.columns.map((c) => c.name)]), table);
  const out: { email?: { email: string; canonical: string }; emailVerified?: boolean; columns: Record<string, SqlValue> } = {
    columns: readColumnValues(table, body, { mode: "update", nowMs: p.deps.now(), random: p.deps.random, admin: true }),
  };
  if (body.email !== undefined) out.email = readEmail(body, "email");
  const verified = readBoolField(body, "email_verified");
  if (verified !== undefined) out.emailVerified = verified;
  return out;
}

export function patchUser(p: ProjectRuntime, rawId: string, input: PatchUserInput, client: ClientMeta): Record<string, unknown> {
  const id = readUserId(rawId);
  const users = usersOf(p);
  const nowIso = new Date(p.deps.now()).toISOString();
  const t = `"${users.table.name}"`;
  let row: UserRow;
  try {
    row = p.db
      .transaction((): UserRow => {
        if (!users.findById(id)) throw new ApiError("USER_NOT_FOUND");
        checkRefTargets(p, users.table, input.columns);
        if (input.email) {
          p.db.query(`UPDATE ${t} SET "email" = ?, "_email_canonical" = ?, "updated_at" = ? WHERE "id" = ?`).run(input.email.email, input.email.canonical, nowIso, id);
        }
        if (input.emailVerified !== undefined) {
          p.db.query(`UPDATE ${t} SET "email_verified" = ?, "updated_at" = ? WHERE "id" = ?`).run(input.emailVerified ? 1 : 0, nowIso, id);
        }
        const updated = users.update(id, input.columns, nowIso);
        if (!updated) throw new ApiError("USER_NOT_FOUND");
        return updated;
      })
      .immediate();
  } catch (e) {
    throw mapWriteError(e, p);
  }
  const fields = [...Object.keys(input.columns), ...(input.email ? ["email"] : []), ...(input.emailVerified !== undefined ? ["email_verified"] : [])];
  p.log.event("admin.user_updated", { user_id: id, fields, ...eventFields(client) });
  return view(p, row);
}

export function adminDeleteUser(p: ProjectRuntime, rawId: string, client: ClientMeta): void {
  const id = readUserId(rawId);
  const nowMs = p.deps.now();
  p.db
    .transaction(() => {
      const user = requireUser(p, id);
      deleteUser(p, user, nowMs, { notice: false });
    })
    .immediate();
  p.log.event("admin.user_deleted", { user_id: id, ...eventFields(client) });
}

export interface BanInput {
  readonly untilMs: number | null;
  readonly reason: string | null;
}

export function parseBan(p: ProjectRuntime, body: JsonObject): BanInput {
  refuseUnknownFields(body, new Set(["until", "reason"]), null);
  let untilMs: number | null = null;
  if (body.until !== undefined && body.until !== null) {
    if (typeof body.until !== "string" || !DATETIME_RE.test(body.until) || Number.isNaN(Date.parse(body.until))) {
      throw new ApiError("VALIDATION_INVALID_FIELD", { field: "until", message: '"until" must be an ISO 8601 date-time with a time zone.' });
    }
    untilMs = Date.parse(body.until);
    if (untilMs <= p.deps.now()) throw new ApiError("VALIDATION_INVALID_FIELD", { field: "until", message: '"until" must be in the future.' });
  }
  let reason: string | null = null;
  if (body.reason !== undefined && body.reason !== null) {
    if (typeof body.reason !== "string" || body.reason.length > MAX_REASON) {
      throw new ApiError("VALIDATION_INVALID_FIELD", { field: "reason", message: `"reason" must be a string of at most ${MAX_REASON} characters.` });
    }
    reason = body.reason;
  }
  return { untilMs, reason };
}

/** Bans and ends every session in one transaction: from its commit on, no refresh or access token of the user works. */
export function banUser(p: ProjectRuntime, rawId: string, input: BanInput, client: ClientMeta): Record<string, unknown> {
  const id = readUserId(rawId);
  const nowMs = p.deps.now();
  const { user, revoked } = p.db
    .transaction(() => {
      const user = requireUser(p, id);
      setBan(p, id, { nowMs, untilMs: input.untilMs, reason: input.reason });
      return { user, revoked: revokeUserSessions(p, id, nowMs, { reason: "banned" }) };
    })
    .immediate();
  p.log.event("admin.user_banned", { user_id: id, until: input.untilMs === null ? null : new Date(input.untilMs).toISOString(), sessions_revoked: revoked, ...eventFields(client) });
  return view(p, user);
}

/** Lifts a ban and clears the login lockout of the user's address. */
export function unbanUser(p: ProjectRuntime, rawId: string, client: ClientMeta): Record<string, unknown> {
  const id = readUserId(rawId);
  const user = p.db
    .transaction(() => {
      const user = requireUser(p, id);
      clearBan(p, id);
      clearLockoutOf(p, user);
      return user;
    })
    .immediate();
  p.log.event("admin.user_unbanned", { user_id: id, ...eventFields(client) });
  return view(p, user);
}

function clearLockoutOf(p: ProjectRuntime, user: UserRow): void {
  const canonical = canonicalEmail(user.email);
  p.db.query("DELETE FROM _rate_limits WHERE key = ?").run(`login_failures_per_account:${canonical}`);
}

export function clearLockout(p: ProjectRuntime, rawId: string, client: ClientMeta): Record<string, unknown> {
  const id = readUserId(rawId);
  const user = p.db.transaction(() => {
    const user = requireUser(p, id);
    clearLockoutOf(p, user);
    return user;
  }).immediate();
  p.log.event("admin.lockout_cleared", { user_id: id, ...eventFields(client) });
  return view(p, user);
}

export function userSessions(p: ProjectRuntime, rawId: string): SessionView[] {
  const id = readUserId(rawId);
  requireUser(p, id);
  return listLiveSessions(p, id, p.deps.now());
}

export function revokeSessionsOf(p: ProjectRuntime, rawId: string, client: ClientMeta): number {
  const id = readUserId(rawId);
  const nowMs = p.deps.now();
  const revoked = p.db
    .transaction(() => {
      requireUser(p, id);
      return revokeUserSessions(p, id, nowMs, { reason: "admin" });
    })
    .immediate();
  p.log.event("admin.sessions_revoked", { user_id: id, sessions_revoked: revoked, ...eventFields(client) });
  return revoked;
}

export function parseSendReset(p: ProjectRuntime, body: JsonObject): string {
  refuseUnknownFields(body, new Set(["redirect_url"]), null);
  if (body.redirect_url === undefined || body.redirect_url === null) {
    throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "redirect_url", message: '"redirect_url" is required.' });
  }
  const redirect = validateRedirectUrl(body.redirect_url, p.redirectOrigins());
  if (!redirect.ok) throw new ApiError("VALIDATION_REDIRECT_URL", { field: "redirect_url" });
  return redirect.url;
}

export function sendPasswordReset(p: ProjectRuntime, rawId: string, redirectUrl: string, client: ClientMeta): void {
  const id = readUserId(rawId);
  const nowMs = p.deps.now();
  p.db
    .transaction(() => {
      const user = requireUser(p, id);
      queueResetEmail(p, { id: user.id, email: user.email }, redirectUrl, nowMs);
    })
    .immediate();
  p.log.event("admin.password_reset_sent", { user_id: id, ...eventFields(client) });
}

/** Ends one live session of the user (console, SPEC 12); another user's or an ended one is a 404. */
export function revokeOneSession(p: ProjectRuntime, rawId: string, rawSid: string, client: ClientMeta): void {
  const id = readUserId(rawId);
  if (!UUID_RE.test(rawSid)) throw new ApiError("VALIDATION_INVALID_FIELD", { field: "sid", message: "The session id must be a UUID." });
  const sid = rawSid.toLowerCase();
  const nowMs = p.deps.now();
  const ended = p.db
    .transaction(() => {
      requireUser(p, id);
      return liveSessionOwner(p, sid) === id && revokeSession(p, sid, nowMs, "admin");
    })
    .immediate();
  if (!ended) throw new ApiError("NOT_FOUND", { message: "No such live session of this user." });
  p.log.event("session_revoked", { user_id: id, session_id: sid, by: "admin", ...eventFields(client) });
}
