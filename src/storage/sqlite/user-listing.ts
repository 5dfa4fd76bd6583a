/**
 * The SQLite admin users list: keyset pagination on (created_at, id) over the auth table's
 * `(created_at, id)` index (see src/modules/admin-users/list.ts for the contract).
 */
import type { Database } from "bun:sqlite";
import type { BannedWalk, ListedUser, UserListQuery, UserListingOps } from "../user-listing.ts";
import { userFromSqlite } from "./users.ts";
import { quoteIdent } from "../schema/sql-text.ts";
import type { Sync } from "./store.ts";

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * How `banned=true` reads: `"users"` walks the users in page order (the `(created_at, id)` or the
 * verified index) and probes `_user_status` by primary key, up to `upTo` when given; `"bans"` starts
 * from the bans in force (`_user_status_banned`, a partial index) and sorts those users. `CROSS JOIN`
 * fixes the join order, whatever the statistics say.
 */
export type BannedDrive = "users" | "bans";

/**
 * A ban in force at `?` (unix ms): set, and without an end or ending later (users/status.ts
 * isBanActive). Written as the expression of the `_user_status_banned` index (db/internal.sql).
 */
const ACTIVE_BAN = "(s.banned_at IS NOT NULL AND ifnull(s.banned_until, 9223372036854775807) > ?)";
/** The same test in a form the ban index cannot serve, for a walk that probes each user by primary key. */
const ACTIVE_BAN_PROBE = "(s.banned_at IS NOT NULL AND (s.banned_until IS NULL OR s.banned_until > ?))";
const STATUS_COLUMNS = `s.banned_at AS "__banned_at", s.banned_until AS "__banned_until", s.ban_reason AS "__ban_reason", s.last_login_at AS "__last_login_at"`;

/** Users after the cursor, matching `q` and `verified` (the conditions on the auth table alone). */
function userConditions(q: UserListQuery, where: string[], args: (string | number)[]): void {
  if (q.after) (where.push("(u.created_at, u.id) > (?, ?)"), args.push(q.after[0], q.after[1]));
  if (q.q !== undefined) {
    // A prefix as a range (no LIKE, so `%` and `_` in an address are plain characters).
    const prefix = q.q.trim().toLowerCase();
    if (UUID_RE.test(q.q)) (where.push("(u.id = ? OR (u._email_canonical >= ? AND u._email_canonical < ?))"), args.push(q.q.toLowerCase(), prefix, prefix + "\u{10ffff}"));
    else (where.push("u._email_canonical >= ? AND u._email_canonical < ?"), args.push(prefix, prefix + "\u{10ffff}"));
  }
  if (q.verified !== undefined) (where.push("u.email_verified = ?"), args.push(q.verified ? 1 : 0));
}

/**
 * The page's SQL and its arguments (the LIMIT last). Every filter reads an index that holds only
 * candidates, so a page costs the users it returns, not the users it skips:
 * - no filter: the `(created_at, id)` index from the cursor on;
 * - `verified`: the `(email_verified, created_at, id)` index, the same order within one value;
 * - `banned=true`: see BannedDrive and listUsers;
 * - `banned=false` (with or without `verified`): the users index as above, skipping the banned
 *   (one primary-key probe of `_user_status` per user read);
 * - `q`: the `_email_canonical` unique index (a prefix range) or the primary key.
 */
export function userListSql(
  table: string, q: UserListQuery, nowMs: number, opts: { drive?: BannedDrive; upTo?: readonly [string, string] } = {},
): { sql: string; args: (string | number)[] } {
  const t = quoteIdent(table);
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.banned === true) (where.push(opts.drive === "bans" ? ACTIVE_BAN : ACTIVE_BAN_PROBE), args.push(nowMs));
  userConditions(q, where, args);
  if (opts.upTo) (where.push("(u.created_at, u.id) <= (?, ?)"), args.push(opts.upTo[0], opts.upTo[1]));
  if (q.banned === false) (where.push(`NOT ${ACTIVE_BAN_PROBE}`), args.push(nowMs));
  let from = `${t} u LEFT JOIN _user_status s ON s.user_id = u.id`;
  if (q.banned === true && opts.drive === "bans") from = `_user_status s CROSS JOIN ${t} u ON u.id = s.user_id`;
  if (q.banned === true && opts.drive === "users") from = `${t} u CROSS JOIN _user_status s ON s.user_id = u.id`;
  const sql = `SELECT u.*, ${STATUS_COLUMNS}
    FROM ${from}
    ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY u.created_at, u.id LIMIT ?`;
  return { sql, args: [...args, q.limit + 1] };
}

/** The (created_at, id) of the `n`th user after the cursor matching `q`/`verified`, or null: an index-only scan. */
export function userWindowSql(table: string, q: UserListQuery, n: number): { sql: string; args: (string | number)[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  userConditions(q, where, args);
  const sql = `SELECT u.created_at AS created_at, u.id AS id FROM ${quoteIdent(table)} u
    ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY u.created_at, u.id LIMIT 1 OFFSET ?`;
  return { sql, args: [...args, n - 1] };
}

/** How many bans are in force at `?`: an index-only count of the `_user_status_banned` range. */
export const ACTIVE_BANS_SQL = `SELECT count(*) AS n FROM _user_status s WHERE ${ACTIVE_BAN}`;
/** Whether any ban is in force at `?`: one step into that range. */
export const ANY_ACTIVE_BAN_SQL = `SELECT 1 AS yes FROM _user_status s WHERE ${ACTIVE_BAN} LIMIT 1`;

function bannedPage(db: Database, table: string, q: UserListQuery, nowMs: number, walk: BannedWalk): Record<string, unknown>[] {
  const all = (x: { sql: string; args: (string | number)[] }) => db.query(x.sql).all(...x.args) as Record<string, unknown>[];
  if (db.query(ANY_ACTIVE_BAN_SQL).get(nowMs) === null) return [];
  const step = Math.max(1, walk.min);
  let budget = step; // the bans are counted only when a first step leaves the page short
  const found: Record<string, unknown>[] = [];
  let after = q.after;
  for (let walked = 0; walked < budget; walked += step) {
    const w = userWindowSql(table, { ...q, after }, step);
    const edge = db.query(w.sql).get(...w.args) as { created_at: string; id: string } | null;
    const upTo = edge ? ([edge.created_at, edge.id] as const) : undefined;
    found.push(...all(userListSql(table, { ...q, after, limit: q.limit - found.length }, nowMs, { drive: "users", upTo })));
    // The page is full (one row more says there is a next page), or no user is left after this step.
    if (!upTo || found.length > q.limit) return found;
    after = upTo;
    if (walked === 0) budget = Math.max(step, (db.query(ACTIVE_BANS_SQL).get(nowMs) as { n: number }).n * walk.perBan);
  }
  // Users after the walk, from the bans in force; every one sorts after those found by the walk.
  return [...found, ...all(userListSql(table, { ...q, after, limit: q.limit - found.length }, nowMs, { drive: "bans" }))];
}

/** A row of the page query: the auth table's columns and the status columns beside them. */
function listed(raw: Record<string, unknown>): ListedUser {
  const status = {
    bannedAt: raw.__banned_at as number | null,
    bannedUntil: raw.__banned_until as number | null,
    banReason: raw.__ban_reason as string | null,
    lastLoginAt: raw.__last_login_at as number | null,
  };
  delete raw.__banned_at;
  delete raw.__banned_until;
  delete raw.__ban_reason;
  delete raw.__last_login_at;
  return { user: userFromSqlite(raw), status };
}

export function createUserListing(db: Database): Sync<UserListingOps> {
  return {
    page(table, q, nowMs, walk) {
      const rows = q.banned === true && q.q === undefined
        ? bannedPage(db, table, q, nowMs, walk)
        : (() => {
            const { sql, args } = userListSql(table, q, nowMs);
            return db.query(sql).all(...args) as Record<string, unknown>[];
          })();
      return rows.map(listed);
    },
  };
}
