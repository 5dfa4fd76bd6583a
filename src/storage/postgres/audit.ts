/** The `audit` group of the PostgreSQL store (SPEC 12): `_audit` rows, newest first by id. */
import type { AuditEvent, AuditOps } from "../audit.ts";
import { atomic, changes, num, rows, tableOf, type PgOpsContext } from "./context.ts";

export function pgAudit(ctx: PgOpsContext): AuditOps {
  const t = tableOf(ctx, "_audit");
  return {
    async append(row) {
      await ctx.sql.unsafe(`INSERT INTO ${t} (at, type, user_id, ip, user_agent, request_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [row.at, row.type, row.userId, row.ip, row.userAgent, row.requestId, JSON.stringify(row.details)]);
    },
    async list(q) {
      const where: string[] = [];
      const args: (string | number)[] = [];
      const arg = (v: string | number): string => (args.push(v), `$${args.length}`);
      if (q.userId !== undefined) where.push(`user_id = ${arg(q.userId)}`);
      if (q.type !== undefined) where.push(`type = ${arg(q.type)}`);
      if (q.sinceMs !== undefined) where.push(`at >= ${arg(q.sinceMs)}`);
      if (q.beforeId !== undefined) where.push(`id < ${arg(q.beforeId)}`);
      const found = await rows<Record<string, unknown>>(ctx.sql, `SELECT id, at, type, user_id, ip, user_agent, request_id, details FROM ${t}
        ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ${arg(q.limit)}`, args);
      return found.map((r): AuditEvent => ({
        id: num(r.id),
        type: r.type as string,
        at: new Date(num(r.at)).toISOString(),
        user_id: r.user_id as string | null,
        ip: r.ip as string | null,
        user_agent: r.user_agent as string | null,
        request_id: r.request_id as string | null,
        details: JSON.parse(r.details as string) as Record<string, unknown>,
      }));
    },
    prune: (beforeMs) => changes(ctx.sql, `DELETE FROM ${t} WHERE at < $1`, [beforeMs]),
    pruneOldest: (beforeMs, limit) =>
      atomic(ctx, async (tx) => {
        // Old audit rows serve nobody: no wait for the WAL flush. SKIP LOCKED: replicas pruning at
        // the same time take different rows, none is deleted twice.
        if (!ctx.inTransaction) await tx.unsafe("SET LOCAL synchronous_commit = off");
        return await changes(tx, `DELETE FROM ${t} WHERE id IN (SELECT id FROM ${t} WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)`, [beforeMs, limit]);
      }),
  };
}
