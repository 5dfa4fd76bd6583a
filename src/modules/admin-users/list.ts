/**
 * GET /v1/users (SPEC 12): keyset pagination on (created_at, id) over the auth table's
 * `(created_at, id)` index. The cursor is the last row's (created_at, id), MAC'd (http/cursor.ts),
 * so a page is a range scan from there: every user that existed before the first page is seen
 * exactly once, whatever is inserted in between (new users sort after the existing ones).
 */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { ApiError } from "../../http/errors.ts";
import { decodeCursor, encodeCursor } from "../../http/cursor.ts";
import { BANNED_WALK, type BannedWalk, type UserListQuery } from "../../storage/user-listing.ts";
import { userModelOf } from "../../users/model.ts";
import { toAdminUser } from "./view.ts";

export type ListUsersDeps = Pick<ProjectRuntime, "config" | "deps" | "id" | "store">;

const LIST_PARAMS = new Set(["q", "verified", "banned", "limit", "cursor"]);
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** An email is at most 254 characters; a longer `q` cannot match anything. */
const MAX_Q = 254;
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

export type { UserListQuery } from "../../storage/user-listing.ts";
export { BANNED_WALK, type BannedWalk } from "../../storage/user-listing.ts";

function invalid(field: string, message: string): ApiError {
  return new ApiError("VALIDATION_INVALID_FIELD", { field, message });
}

export function readBool(query: Record<string, string | undefined>, name: string): boolean | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (v === "true") return true;
  if (v === "false") return false;
  throw invalid(name, `"${name}" must be true or false.`);
}

export function readLimit(query: Record<string, string | undefined>): number {
  const v = query.limit;
  if (v === undefined) return DEFAULT_LIMIT;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > MAX_LIMIT) throw invalid("limit", `"limit" must be an integer from 1 to ${MAX_LIMIT}.`);
  return Number(v);
}

/** Unknown parameters are refused, and a parameter given twice (an array) is malformed. */
export function refuseUnknownParams(query: Record<string, unknown>, accepted: ReadonlySet<string>): void {
  for (const [k, v] of Object.entries(query)) {
    if (!accepted.has(k)) throw new ApiError("VALIDATION_UNKNOWN_FIELD", { field: k.slice(0, 64), message: `Unknown query parameter "${k.slice(0, 64)}".` });
    if (typeof v !== "string") throw invalid(k, `"${k}" must be given once, as a string.`);
  }
}

export function parseUserListQuery(p: Pick<ProjectRuntime, "deps" | "id">, query: Record<string, string | undefined>): UserListQuery {
  refuseUnknownParams(query, LIST_PARAMS);
  const q = query.q;
  if (q !== undefined && (q.trim().length === 0 || q.length > MAX_Q)) throw invalid("q", `"q" must be 1 to ${MAX_Q} characters: an email prefix or a user id.`);
  const out: { -readonly [K in keyof UserListQuery]: UserListQuery[K] } = { limit: readLimit(query) };
  if (q !== undefined) out.q = q;
  const verified = readBool(query, "verified");
  if (verified !== undefined) out.verified = verified;
  const banned = readBool(query, "banned");
  if (banned !== undefined) out.banned = banned;
  if (query.cursor !== undefined) {
    const [createdAt, id] = decodeCursor(p, "users", query.cursor, ["string", "string"]) as [string, string];
    out.after = [createdAt, id];
  }
  return out;
}

export async function listUsers(
  p: ListUsersDeps, q: UserListQuery, walk: BannedWalk = BANNED_WALK,
): Promise<{ users: Record<string, unknown>[]; next_cursor: string | null }> {
  const users = userModelOf(p);
  const nowMs = p.deps.now();
  const rows = await p.store.userListing.page(users.table.name, q, nowMs, walk);
  const more = rows.length > q.limit;
  const page = more ? rows.slice(0, q.limit) : rows;
  const out = page.map(({ user, status }) => toAdminUser(p, user, status, nowMs));
  const last = page.at(-1);
  return {
    users: out,
    next_cursor: more && last ? encodeCursor(p, "users", [last.user.created_at, last.user.id]) : null,
  };
}
