/**
 * The SQLite audit group (SPEC 12): `_audit` rows, newest first by id. Every statement of the
 * table lives here.
 */
import type { Database } from "bun:sqlite";
import type { AuditOps } from "../audit.ts";
import type { Sync } from "./store.ts";
import { prepared } from "./prepared.ts";
import { withoutSync } from "./prune-window.ts";

export type AuditLog = Sync<AuditOps>;

export function createAuditLog(db: Database): AuditLog {
  const s = {
    insert: prepared(db, "INSERT INTO _audit(at, type, user_id, ip, user_agent, request_id, details) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    prune: prepared(db, "DELETE FROM _audit WHERE at < ?"),
    pruneOldest: prepared(db, "DELETE FROM _audit WHERE id IN (SELECT id FROM _audit WHERE at < ?1 ORDER BY at LIMIT ?2)"),
  };
  return {
    append(row) {
      s.insert().run(row.at, row.type, row.userId, row.ip, row.userAgent, row.requestId, JSON.stringify(row.details));
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
      return s.prune().run(beforeMs).changes;
    },
    pruneOldest(beforeMs, limit) {
      // Old audit rows are not needed by anyone: no fsync of their own (see withoutSync).
      return withoutSync(db, () => db.transaction(() => s.pruneOldest().run(beforeMs, limit).changes).immediate());
    },
  };
}
