/**
 * The `userListing` group of the PostgreSQL store: the admin users list (SPEC 12), keyset pages on
 * (created_at, id) of the auth table with each user's status columns, the same filters, search
 * and order as SQLite (src/storage/sqlite/user-listing.ts). PostgreSQL's planner picks the join
 * order itself, so the `banned=true` walk budget (a SQLite plan choice) is not used here. The
 * address search is a prefix test with `starts_with`, exact under any collation.
 */
import type { ListedUser, UserListingOps } from "../user-listing.ts";
import { quoteIdent } from "../schema/sql-text.ts";
import { numOrNull, rows, type PgRunner } from "./run.ts";
import type { PgGroupContext } from "./store.ts";
import { userFromRow } from "./users.ts";

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function pgUserListing(ctx: PgGroupContext, r: PgRunner): UserListingOps {
  return {
    async page(table, q, nowMs) {
      const t = `${ctx.schema}.${quoteIdent(table)}`;
      const status = `${ctx.schema}._user_status`;
      const where: string[] = [];
      const args: unknown[] = [];
      const arg = (v: unknown): string => (args.push(v), `$${args.length}`);
      const activeBan = (): string => `(s.banned_at IS NOT NULL AND (s.banned_until IS NULL OR s.banned_until > ${arg(nowMs)}::bigint))`;
      if (q.banned === true) where.push(activeBan());
      if (q.banned === false) where.push(`NOT ${activeBan()}`);
      if (q.after) where.push(`(u.created_at, u.id) > (${arg(q.after[0])}, ${arg(q.after[1])})`);
      if (q.q !== undefined) {
        const prefix = arg(q.q.trim().toLowerCase());
        if (UUID_RE.test(q.q)) where.push(`(u.id = ${arg(q.q.toLowerCase())} OR starts_with(u._email_canonical, ${prefix}))`);
        else where.push(`starts_with(u._email_canonical, ${prefix})`);
      }
      if (q.verified !== undefined) where.push(`u.email_verified = ${arg(q.verified ? 1 : 0)}`);
      // The auth table's model columns, never u.*: see AuthModel.select.
      const columns = ctx.auth().model.columns.map((c) => `u.${quoteIdent(c.name)}`).join(", ");
      const found = await rows<Record<string, unknown>>(r.q,
        `SELECT ${columns}, s.banned_at AS "__banned_at", s.banned_until AS "__banned_until", s.ban_reason AS "__ban_reason", s.last_login_at AS "__last_login_at"
          FROM ${t} u LEFT JOIN ${status} s ON s.user_id = u.id
          ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
          ORDER BY u.created_at, u.id LIMIT ${arg(q.limit + 1)}`, args);
      const integers = ctx.auth().integers;
      return found.map((raw): ListedUser => {
        const st = {
          bannedAt: numOrNull(raw.__banned_at),
          bannedUntil: numOrNull(raw.__banned_until),
          banReason: raw.__ban_reason as string | null,
          lastLoginAt: numOrNull(raw.__last_login_at),
        };
        delete raw.__banned_at;
        delete raw.__banned_until;
        delete raw.__ban_reason;
        delete raw.__last_login_at;
        return { user: userFromRow(raw, integers), status: st };
      });
    },
  };
}
