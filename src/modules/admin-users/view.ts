import type { ProjectRuntime } from "../../projects/runtime.ts";
import { decodeColumn, isBanActive, userModelOf, type UserRow, type UserStatus } from "../../users/model.ts";

/**
 * The admin user object (SPEC 12): the end-user object plus hidden columns, `banned`,
 * `banned_until` (null for a ban without end), `ban_reason` and `last_login_at`. Never the hash.
 */
export function toAdminUser(p: Pick<ProjectRuntime, "config" | "id">, row: UserRow, status: UserStatus, nowMs: number): Record<string, unknown> {
  const users = userModelOf(p);
  const out = users.toPublic(row);
  for (const col of users.table.columns) if (col.hidden) out[col.name] = decodeColumn(col, row[col.name]);
  const banned = isBanActive(status, nowMs);
  out.banned = banned;
  out.banned_until = banned && status.bannedUntil !== null ? new Date(status.bannedUntil).toISOString() : null;
  out.ban_reason = banned ? status.banReason : null;
  out.last_login_at = status.lastLoginAt === null ? null : new Date(status.lastLoginAt).toISOString();
  return out;
}
