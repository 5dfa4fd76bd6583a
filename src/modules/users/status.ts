/**
 * Per-user state an operator manages (SPEC 12): bans and the last login, in `_user_status`.
 * Synchronous statements, usable inside the caller's transaction.
 */
import type { Statement } from "bun:sqlite";
import type { ProjectRuntime } from "../../projects/runtime.ts";

export interface UserStatus {
  readonly bannedAt: number | null;
  readonly bannedUntil: number | null;
  readonly banReason: string | null;
  readonly lastLoginAt: number | null;
}

const NONE: UserStatus = { bannedAt: null, bannedUntil: null, banReason: null, lastLoginAt: null };

interface StatusStatements {
  get: Statement;
  ban: Statement;
  unban: Statement;
  login: Statement;
  remove: Statement;
}

const cache = new WeakMap<ProjectRuntime, StatusStatements>();

function statementsOf(p: ProjectRuntime): StatusStatements {
  let s = cache.get(p);
  if (!s) {
    s = {
      get: p.db.prepare("SELECT banned_at, banned_until, ban_reason, last_login_at FROM _user_status WHERE user_id = ?"),
      ban: p.db.prepare(
        `INSERT INTO _user_status(user_id, banned_at, banned_until, ban_reason) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(user_id) DO UPDATE SET banned_at = ?2, banned_until = ?3, ban_reason = ?4`,
      ),
      unban: p.db.prepare("UPDATE _user_status SET banned_at = NULL, banned_until = NULL, ban_reason = NULL WHERE user_id = ?"),
      login: p.db.prepare(
        `INSERT INTO _user_status(user_id, last_login_at) VALUES (?1, ?2)
         ON CONFLICT(user_id) DO UPDATE SET last_login_at = ?2`,
      ),
      remove: p.db.prepare("DELETE FROM _user_status WHERE user_id = ?"),
    };
    cache.set(p, s);
  }
  return s;
}

export function userStatusOf(p: ProjectRuntime, userId: string): UserStatus {
  const r = statementsOf(p).get.get(userId) as { banned_at: number | null; banned_until: number | null; ban_reason: string | null; last_login_at: number | null } | null;
  if (!r) return NONE;
  return { bannedAt: r.banned_at, bannedUntil: r.banned_until, banReason: r.ban_reason, lastLoginAt: r.last_login_at };
}

/** A ban is in force when set and either open-ended or not yet past its `until`. */
export function isBanActive(status: Pick<UserStatus, "bannedAt" | "bannedUntil">, nowMs: number): boolean {
  return status.bannedAt !== null && (status.bannedUntil === null || status.bannedUntil > nowMs);
}

export function isUserBanned(p: ProjectRuntime, userId: string, nowMs: number): boolean {
  return isBanActive(userStatusOf(p, userId), nowMs);
}

export function setBan(p: ProjectRuntime, userId: string, ban: { nowMs: number; untilMs: number | null; reason: string | null }): void {
  statementsOf(p).ban.run(userId, ban.nowMs, ban.untilMs, ban.reason);
}

export function clearBan(p: ProjectRuntime, userId: string): void {
  statementsOf(p).unban.run(userId);
}

export function recordLogin(p: ProjectRuntime, userId: string, nowMs: number): void {
  statementsOf(p).login.run(userId, nowMs);
}

export function removeUserStatus(p: ProjectRuntime, userId: string): void {
  statementsOf(p).remove.run(userId);
}
