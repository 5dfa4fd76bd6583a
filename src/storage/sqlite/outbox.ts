/** The `outbox` group of the SQLite store. */
import type { OutboxOps, OutboxMessageView, OutboxRow } from "../outbox.ts";
import { prepared } from "./prepared.ts";
import type { SqliteStoreContext, Sync } from "./store.ts";

export function sqliteOutbox(ctx: SqliteStoreContext): Sync<OutboxOps> {
  const db = ctx.db;
  const insert = prepared(db, "INSERT INTO _outbox(id, template, to_addr, payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)");
  const due = prepared(
    db,
    `SELECT id, template, to_addr, payload, attempts, next_attempt_at FROM _outbox
      WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?`,
  );
  const claim = prepared(db, "UPDATE _outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ? AND status = 'pending' AND attempts = ?");
  const sent = prepared(db, "UPDATE _outbox SET status = 'sent', payload = NULL, last_error = NULL, finished_at = ? WHERE id = ?");
  const failed = prepared(db, "UPDATE _outbox SET status = 'failed', payload = NULL, last_error = ?, finished_at = ? WHERE id = ?");
  const recordError = prepared(db, "UPDATE _outbox SET last_error = ? WHERE id = ?");
  const nextDue = prepared(db, "SELECT MIN(next_attempt_at) AS at FROM _outbox WHERE status = 'pending'");
  const counts = prepared(
    db,
    "SELECT COALESCE(SUM(status = 'pending'), 0) AS pending, COALESCE(SUM(status = 'failed'), 0) AS failed FROM _outbox WHERE status != 'sent'",
  );
  const unsent = prepared(
    db,
    "SELECT id, template, status, attempts, next_attempt_at, created_at, last_error FROM _outbox WHERE status != 'sent' ORDER BY created_at DESC, id LIMIT ?",
  );
  const findFailed = prepared(db, "SELECT template, to_addr FROM _outbox WHERE id = ? AND status = 'failed'");
  const remove = prepared(db, "DELETE FROM _outbox WHERE id = ?");
  const pruneFinished = prepared(db, "DELETE FROM _outbox WHERE status <> 'pending' AND finished_at < ?");

  return {
    enqueue(m) {
      insert().run(m.id, m.template, m.to, m.payload, m.nowMs, m.nowMs);
    },
    due: (nowMs, limit) => due().all(nowMs, limit) as OutboxRow[],
    claim: (id, attempts, retryAtMs) => claim().run(retryAtMs, id, attempts).changes === 1,
    markSent: (id, nowMs) => sent().run(nowMs, id).changes === 1,
    markFailed: (id, nowMs, error) => failed().run(error, nowMs, id).changes === 1,
    recordError: (id, error) => recordError().run(error, id).changes === 1,
    nextDueAt: () => (nextDue().get() as { at: number | null }).at,
    counts() {
      const r = counts().get() as { pending: number; failed: number };
      return { pending: r.pending, failed: r.failed };
    },
    listUnsent: (limit) => unsent().all(limit) as OutboxMessageView[],
    findFailed: (id) => findFailed().get(id) as { template: string; to_addr: string } | null,
    remove(id) {
      remove().run(id);
    },
    pruneFinished: (beforeMs) => pruneFinished().run(beforeMs).changes,
  };
}
