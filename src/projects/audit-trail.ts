/**
 * Every security event logged through a project's logger (SPEC 9.6) is also an audit row
 * (SPEC 12). Wrapping the logger's `event` means no event can be logged without being recorded,
 * and the row is written in the caller's transaction when there is one.
 *
 * A row never holds a secret: only the caller's id fields and a small `details` object of
 * booleans, numbers and short strings, with any key that names a secret dropped on the way in.
 */
import type { Logger } from "../log.ts";
import type { AuditOps } from "../storage/audit.ts";

/** Log event name -> audit type (SPEC 12 names). Unlisted events keep their own name. */
const AUDIT_TYPES: Readonly<Record<string, string>> = {
  signup: "user.signup",
  login: "user.login",
  login_failed: "user.login_failed",
  login_locked: "user.login_failed",
  login_refused_unverified: "user.login_failed",
  login_banned: "user.login_failed",
  lockout: "user.locked_out",
  logout: "user.logout",
  logout_all: "user.logout",
  password_changed: "user.password_changed",
  password_change_failed: "user.password_change_failed",
  password_rehashed: "user.password_rehashed",
  password_reset_requested: "user.password_reset_requested",
  password_reset_completed: "user.password_reset",
  email_verified: "user.email_verified",
  verification_resent: "user.verification_resent",
  verification_resend_requested: "user.verification_resent",
  email_change_requested: "user.email_change_requested",
  email_change_failed: "user.email_change_failed",
  email_changed: "user.email_changed",
  account_deleted: "user.deleted",
  account_delete_failed: "user.delete_failed",
  session_revoked: "session.revoked",
  refresh_reuse: "session.refresh_reuse",
  admin_key_failed: "admin.key_failed",
  keys_rotated: "admin.keys_rotated",
  jwt_secret_rotated: "admin.jwt_secret_rotated",
  redirect_origins_changed: "admin.redirect_origins_changed",
};

/** Which log reason a shared audit type came from. */
const IMPLIED_REASON: Readonly<Record<string, string>> = {
  login_locked: "locked",
  login_refused_unverified: "unverified",
  login_banned: "banned",
  logout_all: "all_sessions",
};

const ID_FIELDS = new Set(["user_id", "ip", "user_agent", "request_id", "event"]);
/** A details key naming a secret is dropped, whatever its value (belt and braces). */
const SECRET_KEY = /pass|token|secret|hash|key|cookie|authorization/i;
const MAX_STRING = 200;
const MAX_DETAILS = 16;

export function auditTypeOf(event: string): string {
  return AUDIT_TYPES[event] ?? event;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v.slice(0, 256) : null;
}

function detailValue(v: unknown): unknown {
  if (v === null || typeof v === "boolean" || typeof v === "number") return v;
  if (typeof v === "string") return v.slice(0, MAX_STRING);
  if (Array.isArray(v)) return v.slice(0, 16).filter((x) => typeof x === "string" || typeof x === "number").map((x) => (typeof x === "string" ? x.slice(0, MAX_STRING) : x));
  return undefined;
}

/** The details object of an event: its non-id fields, secrets dropped, values kept small. */
export function auditDetails(event: string, fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (IMPLIED_REASON[event]) out.reason = IMPLIED_REASON[event];
  for (const [k, v] of Object.entries(fields)) {
    if (ID_FIELDS.has(k) || SECRET_KEY.test(k) || k === "project") continue;
    if (Object.keys(out).length >= MAX_DETAILS) break;
    const value = detailValue(v);
    if (value !== undefined) out[k] = value;
  }
  return out;
}

/** Audit appends not yet written (on PostgreSQL a write is a round trip; on SQLite it is done at once). */
const inFlight = new Set<Promise<unknown>>();

/**
 * Undefined when every audit row appended so far is written; otherwise a promise that resolves once
 * they are (or failed). The app waits for it before answering, so a response never comes before
 * the audit rows of the events it caused: an admin who reads the audit log next finds them.
 */
export function auditWritesSettled(): Promise<void> | undefined {
  if (inFlight.size === 0) return undefined;
  return Promise.allSettled([...inFlight]).then(() => undefined);
}

/**
 * Returns a logger whose `event` also appends an audit row through `audit()` (the project's store,
 * reached on first use). On SQLite, outside any transaction, the row is written before `event`
 * returns; on PostgreSQL the write is under way and the response waits for it (auditWritesSettled).
 * An event logged inside a store transaction is appended once that transaction has ended. A failed
 * audit write is logged and does not fail the request: the change it describes has already committed.
 */
export function withAuditTrail(log: Logger, audit: () => Pick<AuditOps, "append">, now: () => number): Logger {
  const warn = (event: string, e: unknown): void => log.warn("audit row not written", { event, error: e instanceof Error ? e.message : String(e) });
  return {
    ...log,
    event(event, fields = {}) {
      log.event(event, fields);
      try {
        const appended = audit().append({
          at: now(),
          type: auditTypeOf(event),
          userId: str(fields.user_id),
          ip: str(fields.ip),
          userAgent: str(fields.user_agent),
          requestId: str(fields.request_id),
          details: auditDetails(event, fields),
        });
        const written = appended.catch((e: unknown) => warn(event, e));
        inFlight.add(written);
        void written.finally(() => inFlight.delete(written));
      } catch (e) {
        warn(event, e);
      }
    },
    child: (fields) => withAuditTrail(log.child(fields), audit, now),
  };
}
