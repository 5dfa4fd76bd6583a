import type { Database } from "bun:sqlite";
import type { AdminOps, OutboxMessageRow, SchemaHistoryRow } from "../admin.ts";
import type { Sync } from "./store.ts";
import { lazyStatements } from "./statements.ts";

export function createAdminOps(db: Database): Sync<AdminOps> {
  const s = lazyStatements(db, {
    counts: "SELECT COALESCE(SUM(status = 'pending'), 0) AS pending, COALESCE(SUM(status = 'failed'), 0) AS failed FROM _outbox WHERE status != 'sent'",
    messages: "SELECT id, template, status, attempts, next_attempt_at, created_at, last_error FROM _outbox WHERE status != 'sent' ORDER BY created_at DESC, id LIMIT ?",
    failed: "SELECT template, to_addr FROM _outbox WHERE id = ? AND status = 'failed'",
    remove: "DELETE FROM _outbox WHERE id = ?",
    history: "SELECT applied_at, kind, table_name, column_name, destructive, description FROM _schema_history ORDER BY id DESC LIMIT ?",
  });
  return {
    outboxCounts: () => s.counts.get() as { pending: number; failed: number },
    outboxMessages: (limit) => s.messages.all(limit) as OutboxMessageRow[],
    failedMessage(id) {
      const row = s.failed.get(id) as { template: string; to_addr: string } | null;
      return row ? { template: row.template, toAddr: row.to_addr } : null;
    },
    removeMessage: (id) => void s.remove.run(id),
    schemaHistory: (limit) => s.history.all(limit) as SchemaHistoryRow[],
    nextMailAt: () => nextMailAt(db),
  };
}

/** Earliest time a pending message is due (null: none pending); also read at boot, on a bare connection. */
export function nextMailAt(db: Database): number | null {
  return (db.query("SELECT MIN(next_attempt_at) AS at FROM _outbox WHERE status = 'pending'").get() as { at: number | null }).at;
}
