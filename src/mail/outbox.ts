/**
 * The mail outbox (SPEC 8): rows are written inside the caller's transaction, so a message exists
 * exactly when the change (and the token) it talks about was committed. The payload holds template
 * variables and at most a link token *id* plus the link's base URL, never the token itself; it is
 * dropped once the message is sent or has finally failed.
 */
import type { TemplateName } from "../config/types.ts";
import { uuidV4 } from "../crypto/random.ts";
import type { ProjectRuntime } from "../projects/runtime.ts";
import type { TemplateVariables } from "./templates.ts";

export interface OutboxLink {
  /** Id of the `_link_tokens` row; the sender rebuilds the token from it. */
  readonly tokenId: string;
  /** Absolute URL the `token` query parameter is appended to. */
  readonly base: string;
}

export interface OutboxPayload {
  readonly vars: TemplateVariables;
  readonly link?: OutboxLink;
}

export interface OutboxRow {
  readonly id: string;
  readonly template: TemplateName;
  readonly to_addr: string;
  readonly payload: string | null;
  readonly attempts: number;
  readonly next_attempt_at: number;
}

/** Per-project callbacks that wake a running sender (none when senders are off, e.g. in tests). */
const wakers = new WeakMap<ProjectRuntime, () => void>();

/** Nudges the project's running sender, if any (mail written through another connection). */
export function wakeOutbox(p: ProjectRuntime): void {
  wakers.get(p)?.();
}

export function setOutboxWaker(p: ProjectRuntime, wake: (() => void) | null): void {
  if (wake) wakers.set(p, wake);
  else wakers.delete(p);
}

/**
 * Writes one message. Synchronous, no await: call it inside the transaction that creates the
 * token or change the message is about. The sender is nudged, and since a transaction cannot be
 * interrupted by a timer, it only looks after the commit.
 */
export function enqueueMail(
  p: ProjectRuntime,
  msg: { template: TemplateName; to: string; payload: OutboxPayload; nowMs: number },
): string {
  const id = uuidV4(p.deps.random);
  p.db
    .query("INSERT INTO _outbox(id, template, to_addr, payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)")
    .run(id, msg.template, msg.to, JSON.stringify(msg.payload), msg.nowMs, msg.nowMs);
  wakers.get(p)?.();
  return id;
}

/** Row access for the sender. */
export const outboxRepo = {
  due(p: ProjectRuntime, nowMs: number, limit: number): OutboxRow[] {
    return p.db
      .query(
        `SELECT id, template, to_addr, payload, attempts, next_attempt_at FROM _outbox
          WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?`,
      )
      .all(nowMs, limit) as OutboxRow[];
  },

  /** Messages waiting to be sent and messages given up on (metrics). */
  countPendingAndFailed(p: Pick<ProjectRuntime, "db">): { pending: number; failed: number } {
    const r = p.db
      .query("SELECT COALESCE(SUM(status = 'pending'), 0) AS pending, COALESCE(SUM(status = 'failed'), 0) AS failed FROM _outbox WHERE status != 'sent'")
      .get() as { pending: number; failed: number };
    return { pending: r.pending, failed: r.failed };
  },

  /** Earliest retry time of a pending message, or null when nothing is pending. */
  nextDueAt(p: ProjectRuntime): number | null {
    const r = p.db.query("SELECT MIN(next_attempt_at) AS at FROM _outbox WHERE status = 'pending'").get() as { at: number | null };
    return r.at;
  },

  /**
   * Counts an attempt before it is made and moves the retry time forward, with one conditional
   * update: if the process dies mid-send the message is retried later instead of lost, and two
   * senders can never both claim the same attempt.
   */
  claim(p: ProjectRuntime, row: OutboxRow, retryAtMs: number): boolean {
    return (
      p.db
        .query("UPDATE _outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ? AND status = 'pending' AND attempts = ?")
        .run(retryAtMs, row.id, row.attempts).changes === 1
    );
  },

  markSent(p: ProjectRuntime, id: string, nowMs: number): void {
    p.db.query("UPDATE _outbox SET status = 'sent', payload = NULL, last_error = NULL, finished_at = ? WHERE id = ?").run(nowMs, id);
  },

  markFailed(p: ProjectRuntime, id: string, nowMs: number, error: string): void {
    p.db.query("UPDATE _outbox SET status = 'failed', payload = NULL, last_error = ?, finished_at = ? WHERE id = ?").run(error, nowMs, id);
  },

  recordError(p: ProjectRuntime, id: string, error: string): void {
    p.db.query("UPDATE _outbox SET last_error = ? WHERE id = ?").run(error, id);
  },

  /** Deletes finished messages (already without body) older than `beforeMs`. */
  pruneFinished(p: ProjectRuntime, beforeMs: number): number {
    return p.db.query("DELETE FROM _outbox WHERE status <> 'pending' AND finished_at < ?").run(beforeMs).changes;
  },
};
