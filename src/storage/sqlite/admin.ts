import type { Database } from "bun:sqlite";
import type { AdminOps, SchemaHistoryRow } from "../admin.ts";
import type { Sync } from "./store.ts";
import { prepared } from "./prepared.ts";

export function createAdminOps(db: Database): Sync<AdminOps> {
  const history = prepared(db, "SELECT applied_at, kind, table_name, column_name, destructive, description FROM _schema_history ORDER BY id DESC LIMIT ?");
  return {
    schemaHistory: (limit) => history().all(limit) as SchemaHistoryRow[],
  };
}

/** Earliest time a pending message is due (null: none pending), read at boot on a bare connection. */
export function nextMailAt(db: Database): number | null {
  return (db.query("SELECT MIN(next_attempt_at) AS at FROM _outbox WHERE status = 'pending'").get() as { at: number | null }).at;
}
