/**
 * The admin users list (SPEC 12): keyset pages on (created_at, id) of the auth table, with each
 * user's status columns. The query is parsed and checked by the caller; an engine reads one page.
 */
import type { UserRow, UserStatus } from "./users.ts";

export interface UserListQuery {
  readonly q?: string;
  readonly verified?: boolean;
  readonly banned?: boolean;
  readonly limit: number;
  readonly after?: readonly [string, string];
}

/**
 * How `banned=true` reads a page: it walks the users in page order, `min` at a time, until the page
 * is full, no user is left, or it has walked `perBan` users per ban in force (at least `min`; the
 * bans are counted only when the first step leaves the page short); then
 * it turns to the bans in force after the last user walked. Walking reads an index entry and probes
 * `_user_status` by primary key; going through the bans looks each banned user up and sorts them,
 * about ten times more per row (bench/admin-users.ts). So the walk goes on while it costs no more
 * than the bans would: common bans are found by the walk, few bans are cheap to sort.
 */
export interface BannedWalk {
  readonly min: number;
  readonly perBan: number;
}
export const BANNED_WALK: BannedWalk = { min: 2000, perBan: 10 };

/** One user of a page, with the state beside it (bans, last login). */
export interface ListedUser {
  readonly user: UserRow;
  readonly status: UserStatus;
}

export interface UserListingOps {
  /** Up to `q.limit + 1` users after `q.after`, in (created_at, id) order (one more says there is a next page). */
  page(table: string, q: UserListQuery, nowMs: number, walk: BannedWalk): Promise<ListedUser[]>;
}
