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
import { parseEmail } from "../../users/email.ts";
import { newUserValues, userModelOf, type SqlValue, type UserRow } from "../../users/model.ts";
import { canonicalEmail } from "../../users/email.ts";
import { counterKey } from "../../http/rate-limit.ts";
import type { StoreOps } from "../../storage/store.ts";
import { deleteUser } from "../users/delete.ts";
import { checkPasswordPolicy } from "../password/policy.ts";
import { hashPassword } from "../password/hashing.ts";
import { listLiveSessions, type SessionView } from "../session/list.ts";
import { queueResetMail } from "../../mail/events.ts";
import { toAdminUser } from "./view.ts";

/** Writes that queue a mail (the account-deleted notice, a reset link). */
export type AdminUserMailDeps = Pick<ProjectRuntime, "config" | "deps" | "id" | "log" | "redirectOrigins" | "secrets" | "store">;
export type CreateUserDeps = Pick<ProjectRuntime, "config" | "deps" | "hashes" | "id" | "log" | "store">;
/** Writes that log an event (patch, ban, unban, lockout). */
export type AdminUserWriteDeps = Pick<ProjectRuntime, "config" | "deps" | "id" | "log" | "store">;
/** Reads that answer a user view. */
export type AdminUserReadDeps = Pick<ProjectRuntime, "config" | "deps" | "id" | "store">;

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

/** The user `id` through `ops` (the store, or a transaction), or 404. */
async function requireUser(ops: Pick<StoreOps, "users">, id: string): Promise<UserRow> {
  const user = await ops.users.findById(id);
  if (!user) throw new ApiError("USER_NOT_FOUND");
  return user;
}

async function view(p: AdminUserReadDeps, user: UserRow): Promise<Record<string, unknown>> {
  const nowMs = p.deps.now();
  return toAdminUser(p, user, await p.store.users.status(user.id), nowMs);
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

function mapWriteError(e: unknown, p: Pick<ProjectRuntime, "config" | "id">): unknown {
  const mapped = constraintErrorToApi(e, userModelOf(p).table);
  return mapped ?? e;
}

export async function getUser(p: AdminUserReadDeps, rawId: string): Promise<Record<string, unknown>> {
  return view(p, await requireUser(p.store, readUserId(rawId)));
}

export interface CreateUserInput {
  readonly email: string;
  readonly canonical: string;
  readonly password: string | null;
  readonly emailVerified: boolean;
  readonly columns: Record<string, SqlValue>;
}

export function parseCreateUser(p: Pick<ProjectRuntime, "config" | "deps" | "id">, body: JsonObject): CreateUserInput {
  const table = userModelOf(p).table;
  refuseUnknownFields(body, new Set(["email", "password", "email_verified", ...table.columns.map((c) => c.name)]), table);
  if (body.email === undefined || body.email === null) throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "email", message: '"email" is required.' });
  const email = readEmail(body, "email");
  const password = body.password === undefined || body.password === null ? null : checkPasswordPolicy(p, body.password, "password");
  const emailVerified = readBoolField(body, "email_verified") ?? false;
  const columns = readColumnValues(table, body, { mode: "create", nowMs: p.deps.now(), random: p.deps.random, admin: true });
  return { email: email.email, canonical: email.canonical, password, emailVerified, columns };
}

export async function createUser(p: CreateUserDeps, input: CreateUserInput, client: ClientMeta): Promise<Record<string, unknown>> {
  const users = userModelOf(p);
  if (await p.store.users.findByCanonicalEmail(input.canonical)) throw duplicateEmail();
  const hash = input.password === null ? NO_PASSWORD : await hashPassword(p, input.password);
  const nowIso = new Date(p.deps.now()).toISOString();
  let user: UserRow;
  try {
    user = await p.store.transaction(async (tx) => {
      await checkRefTargets(tx, users.table, input.columns);
      return tx.users.insert(
        newUserValues(p, { email: input.email, canonical: input.canonical, passwordHash: hash, emailVerified: input.emailVerified, columns: input.columns }, nowIso),
      );
    });
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

export function parsePatchUser(p: Pick<ProjectRuntime, "config" | "deps" | "id">, body: JsonObject): PatchUserInput {
  const table = userModelOf(p).table;
  refuseUnknownFields(body, new Set(["email", "email_verified", ...table.columns.map((c) => c.name)]), table);
  const out: { email?: { email: string; canonical: string }; emailVerified?: boolean; columns: Record<string, SqlValue> } = {
    columns: readColumnValues(table, body, { mode: "update", nowMs: p.deps.now(), random: p.deps.random, admin: true }),
  };
  if (body.email !== undefined) out.email = readEmail(body, "email");
  const verified = readBoolField(body, "email_verified");
  if (verified !== undefined) out.emailVerified = verified;
  return out;
}

export async function patchUser(p: AdminUserWriteDeps, rawId: string, input: PatchUserInput, client: ClientMeta): Promise<Record<string, unknown>> {
  const id = readUserId(rawId);
  const users = userModelOf(p);
  const nowIso = new Date(p.deps.now()).toISOString();
  let row: UserRow;
  try {
    row = await p.store.transaction(async (tx): Promise<UserRow> => {
      if (!(await tx.users.findById(id))) throw new ApiError("USER_NOT_FOUND");
      await checkRefTargets(tx, users.table, input.columns);
      // The address and its verification are built-in columns: set with the custom ones, in one update.
      const values: Record<string, SqlValue> = { ...input.columns };
      if (input.email) {
        values.email = input.email.email;
        values._email_canonical = input.email.canonical;
      }
      if (input.emailVerified !== undefined) values.email_verified = input.emailVerified ? 1 : 0;
      const updated = await tx.users.update(id, values, nowIso);
      if (!updated) throw new ApiError("USER_NOT_FOUND");
      return updated;
    });
  } catch (e) {
    throw mapWriteError(e, p);
  }
  const fields = [...Object.keys(input.columns), ...(input.email ? ["email"] : []), ...(input.emailVerified !== undefined ? ["email_verified"] : [])];
  p.log.event("admin.user_updated", { user_id: id, fields, ...eventFields(client) });
  return view(p, row);
}

export async function adminDeleteUser(p: AdminUserMailDeps, rawId: string, client: ClientMeta): Promise<void> {
  const id = readUserId(rawId);
  const nowMs = p.deps.now();
  await p.store.transaction(async (tx) => {
    const user = await requireUser(tx, id);
    await deleteUser(p, tx, user, nowMs, { notice: false });
  });
  p.log.event("admin.user_deleted", { user_id: id, ...eventFields(client) });
}

export interface BanInput {
  readonly untilMs: number | null;
  readonly reason: string | null;
}

export function parseBan(p: Pick<ProjectRuntime, "deps">, body: JsonObject): BanInput {
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
export async function banUser(p: AdminUserWriteDeps, rawId: string, input: BanInput, client: ClientMeta): Promise<Record<string, unknown>> {
  const id = readUserId(rawId);
  const nowMs = p.deps.now();
  const { user, revoked } = await p.store.transaction(async (tx) => {
    const user = await requireUser(tx, id);
    await tx.users.setBan(id, { nowMs, untilMs: input.untilMs, reason: input.reason });
    return { user, revoked: await tx.sessions.revokeUser(id, nowMs, { reason: "banned" }) };
  });
  p.log.event("admin.user_banned", { user_id: id, until: input.untilMs === null ? null : new Date(input.untilMs).toISOString(), sessions_revoked: revoked, ...eventFields(client) });
  return view(p, user);
}

/** Lifts a ban and clears the login lockout of the user's address. */
export async function unbanUser(p: AdminUserWriteDeps, rawId: string, client: ClientMeta): Promise<Record<string, unknown>> {
  const id = readUserId(rawId);
  const user = await p.store.transaction(async (tx) => {
    const user = await requireUser(tx, id);
    await tx.users.clearBan(id);
    await clearLockoutOf(tx, user);
    return user;
  });
  p.log.event("admin.user_unbanned", { user_id: id, ...eventFields(client) });
  return view(p, user);
}

async function clearLockoutOf(tx: Pick<StoreOps, "rateLimits">, user: UserRow): Promise<void> {
  await tx.rateLimits.clear(counterKey("login_failures_per_account", canonicalEmail(user.email)));
}

export async function clearLockout(p: AdminUserWriteDeps, rawId: string, client: ClientMeta): Promise<Record<string, unknown>> {
  const id = readUserId(rawId);
  const user = await p.store.transaction(async (tx) => {
    const user = await requireUser(tx, id);
    await clearLockoutOf(tx, user);
    return user;
  });
  p.log.event("admin.lockout_cleared", { user_id: id, ...eventFields(client) });
  return view(p, user);
}

export async function userSessions(p: Pick<ProjectRuntime, "deps" | "store">, rawId: string): Promise<SessionView[]> {
  const id = readUserId(rawId);
  await requireUser(p.store, id);
  return listLiveSessions(p, id, p.deps.now());
}

export async function revokeSessionsOf(p: Pick<ProjectRuntime, "deps" | "log" | "store">, rawId: string, client: ClientMeta): Promise<number> {
  const id = readUserId(rawId);
  const nowMs = p.deps.now();
  const revoked = await p.store.transaction(async (tx) => {
    await requireUser(tx, id);
    return tx.sessions.revokeUser(id, nowMs, { reason: "admin" });
  });
  p.log.event("admin.sessions_revoked", { user_id: id, sessions_revoked: revoked, ...eventFields(client) });
  return revoked;
}

export async function parseSendReset(p: Pick<ProjectRuntime, "store">, body: JsonObject): Promise<string> {
  refuseUnknownFields(body, new Set(["redirect_url"]), null);
  if (body.redirect_url === undefined || body.redirect_url === null) {
    throw new ApiError("VALIDATION_REQUIRED_FIELD", { field: "redirect_url", message: '"redirect_url" is required.' });
  }
  const redirect = validateRedirectUrl(body.redirect_url, await p.store.settings.redirectOrigins());
  if (!redirect.ok) throw new ApiError("VALIDATION_REDIRECT_URL", { field: "redirect_url" });
  return redirect.url;
}

export async function sendPasswordReset(p: AdminUserMailDeps, rawId: string, redirectUrl: string, client: ClientMeta): Promise<void> {
  const id = readUserId(rawId);
  const nowMs = p.deps.now();
  await p.store.transaction(async (tx) => {
    const user = await requireUser(tx, id);
    await queueResetMail(p, tx, { id: user.id, email: user.email }, redirectUrl, nowMs);
  });
  p.log.event("admin.password_reset_sent", { user_id: id, ...eventFields(client) });
}

/** Ends one live session of the user (console, SPEC 12); another user's or an ended one is a 404. */
export async function revokeOneSession(p: Pick<ProjectRuntime, "deps" | "log" | "store">, rawId: string, rawSid: string, client: ClientMeta): Promise<void> {
  const id = readUserId(rawId);
  if (!UUID_RE.test(rawSid)) throw new ApiError("VALIDATION_INVALID_FIELD", { field: "sid", message: "The session id must be a UUID." });
  const sid = rawSid.toLowerCase();
  const nowMs = p.deps.now();
  const ended = await p.store.transaction(async (tx) => {
    await requireUser(tx, id);
    return tx.sessions.revokeOwned(sid, id, nowMs, "admin");
  });
  if (!ended) throw new ApiError("NOT_FOUND", { message: "No such live session of this user." });
  p.log.event("session_revoked", { user_id: id, session_id: sid, by: "admin", ...eventFields(client) });
}
