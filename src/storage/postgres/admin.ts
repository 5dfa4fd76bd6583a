/** The `admin` group of the PostgreSQL store: reads of the admin side that belong to no other group. */
import type { SQL } from "bun";
import type { AdminOps, SchemaHistoryRow } from "../admin.ts";
import { quoteIdent } from "../schema/sql-text.ts";
import { num, numOrNull, rows, tableOf, type PgOpsContext } from "./context.ts";

export function pgAdmin(ctx: PgOpsContext): AdminOps {
  const t = tableOf(ctx, "_schema_history");
  return {
    async schemaHistory(limit) {
      const found = await rows<Record<string, unknown>>(ctx.sql,
        `SELECT applied_at, kind, table_name, column_name, destructive, description FROM ${t} ORDER BY id DESC LIMIT $1`, [limit]);
      return found.map((r): SchemaHistoryRow => ({
        applied_at: r.applied_at as string,
        kind: r.kind as string,
        table_name: r.table_name as string,
        column_name: r.column_name as string | null,
        destructive: num(r.destructive),
        description: r.description as string,
      }));
    },
  };
}

/** Earliest time a pending message of the project is due (null: none pending), read at boot. */
export async function pgNextMailAt(sql: SQL, schema: string): Promise<number | null> {
  const [r] = await rows(sql, `SELECT MIN(next_attempt_at) AS at FROM ${quoteIdent(schema)}._outbox WHERE status = 'pending'`);
  return numOrNull(r?.at);
}
