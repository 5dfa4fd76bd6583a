/** GET /v1/audit (SPEC 12): filters `user_id`, `type`, `since`, `limit`, `cursor`; newest first. */
import type { ProjectRuntime } from "../../projects/runtime.ts";
import { ApiError } from "../../http/errors.ts";
import { decodeCursor, encodeCursor } from "../../http/cursor.ts";
import type { AuditEvent, AuditQuery } from "../../storage/audit.ts";
import { readLimit, refuseUnknownParams } from "../admin-users/list.ts";

const AUDIT_PARAMS = new Set(["user_id", "type", "since", "limit", "cursor"]);
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const TYPE_RE = /^[a-z][a-z0-9_.]{0,63}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

function invalid(field: string, message: string): ApiError {
  return new ApiError("VALIDATION_INVALID_FIELD", { field, message });
}

export function parseAuditQuery(p: Pick<ProjectRuntime, "deps" | "id">, query: Record<string, string | undefined>): AuditQuery {
  refuseUnknownParams(query, AUDIT_PARAMS);
  const out: { -readonly [K in keyof AuditQuery]: AuditQuery[K] } = { limit: readLimit(query) };
  if (query.user_id !== undefined) {
    if (!UUID_RE.test(query.user_id)) throw invalid("user_id", '"user_id" must be a UUID.');
    out.userId = query.user_id.toLowerCase();
  }
  if (query.type !== undefined) {
    if (!TYPE_RE.test(query.type)) throw invalid("type", '"type" must be an event type such as user.login.');
    out.type = query.type;
  }
  if (query.since !== undefined) {
    const ms = DATETIME_RE.test(query.since) ? Date.parse(query.since) : Number.NaN;
    if (Number.isNaN(ms)) throw invalid("since", '"since" must be an ISO 8601 date-time with a time zone.');
    out.sinceMs = ms;
  }
  if (query.cursor !== undefined) out.beforeId = decodeCursor(p, "audit", query.cursor, ["number"])[0] as number;
  return out;
}

export async function listAudit(p: Pick<ProjectRuntime, "deps" | "id" | "store">, q: AuditQuery): Promise<{ events: AuditEvent[]; next_cursor: string | null }> {
  const rows = await p.store.audit.list({ ...q, limit: q.limit + 1 });
  const more = rows.length > q.limit;
  const events = more ? rows.slice(0, q.limit) : rows;
  const last = events.at(-1);
  return { events, next_cursor: more && last ? encodeCursor(p, "audit", [last.id]) : null };
}

/** Housekeeping: deletes audit rows older than `audit.retention`. */
export function pruneAudit(p: Pick<ProjectRuntime, "config" | "store">, nowMs: number): Promise<number> {
  return p.store.audit.prune(nowMs - p.config.audit.retentionSeconds * 1000);
}
