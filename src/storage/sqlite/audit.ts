/**
 * The audit log's storage (SPEC 12): `_audit` rows, newest first by id. Every statement of the
 * table lives here.
 */
import type { Database, Statement } from "bun:sqlite";
import { withoutSync } from "./prune-window.ts";

export interface AuditRow {
  readonly at: number;
  readonly type: string;
  readonly userId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditEvent {
  id: number;
  type: string;
  at: string;
  user_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  readonly userId?: string;
  readonly type?: string;
  readonly sinceMs?: number;
  /** Only rows with an id below this one (the cursor). */
  readonly beforeId?: number;
  readonly limit: number;
}

export interface AuditLog {
  record(row: AuditRow): void;
  list(q: AuditQuery): AuditEvent[];
  /** Deletes rows older than `beforeMs`; returns how many. */
  prune(beforeMs: number): number;
  /**
   * Deletes at most `limit` of the oldest rows older than `beforeMs` (found through the index on
   * `at`), in one short transaction; returns how many. Housekeeping calls it until it returns
   * less than `limit`.
   */
  pruneOldest(beforeMs: number, limit: number): number;
}

const logs = new WeakMap<Database, AuditLog>();

export function auditLogOf(db: Database): AuditLog {
  let log = logs.get(db);
  if (!log) {
    log = createAuditLog(db);
    logs.set(db, log);
  }
  return log;
}

function createAuditLog(db: Database): AuditLog {
  let insert: Statement | null = null;
  return {
    record(row) {
      insert ??= db.prepare("INSERT INTO _audit(at, type, user_id, ip, user_agent, request_id, details) VALUES (?, ?, ?, ?, ?, ?, ?)");
      insert.run(row.at, row.type, row.userId, row.ip, row.userAgent, row.requestId, JSON.stringify(row.details));
    },
    list(q) {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.userId !== undefined) (where.push("user_id = ?"), args.push(q.userId));
      if (q.type !== undefined) (where.push("type = ?"), args.push(q.type));
      if (q.sinceMs !== undefined) (where.push("at >= ?"), args.push(q.sinceMs));
      if (q.beforeId !== undefined) (where.push("id < ?"), args.push(q.beforeId));
      const sql = `SELECT id, at, type, user_id, ip, user_agent, request_id, details FROM _audit
        ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
      const rows = db.query(sql).all(...args, q.limit) as {
        id: number; at: number; type: string; user_id: string | null; ip: string | null;
        user_agent: string | null; request_id: string | null; details: string;
      }[];
      return rows.map((r) => ({
        id: r.id,
        type: r.type,
        at: new Date(r.at).toISOString(),
        user_id: r.user_id,
        ip: r.ip,
        user_agent: r.user_agent,
        request_id: r.request_id,
        details: JSON.parse(r.details) as Record<string, unknown>,
      }));
    },
    prune(beforeMs) {
      return db.query("DELETE FROM _audit WHERE at < ?").run(beforeMs).changes;
    },
    pruneOldest(beforeMs, limit) {
      // Old audit rows are not needed by anyone: no fsync of their own (see withoutSync).
      const del = db.query("DELETE FROM _audit WHERE id IN (SELECT id FROM _audit WHERE at < ?1 ORDER BY at LIMIT ?2)");
      return withoutSync(db, () => db.transaction(() => del.run(beforeMs, limit).changes).immediate());
    },
  };
}
