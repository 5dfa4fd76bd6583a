/**
 * The `outbox` group of the PostgreSQL store. Several replicas send from one outbox: an attempt is
 * claimed with one conditional `UPDATE ... RETURNING` that counts it, moves the retry time on (the
 * lease: until then nobody else sees the message as due) and records the claiming store in
 * `claimed_by`. A replica that dies mid-send leaves the lease to run out; the message is then due
 * again and the next claim takes it over. Marking a message sent or failed (or recording an error)
 * is conditional on holding the lease of the current attempt, so a holder whose lease was taken
 * over can no longer write.
 */
import type { Outbox, OutboxMessageView, OutboxRow } from "../outbox.ts";
import type { TemplateName } from "../../config/types.ts";
import { changes, num, numOrNull, rows, tableOf, type PgOpsContext } from "./context.ts";

export function pgOutbox(ctx: PgOpsContext): Outbox {
  const t = tableOf(ctx, "_outbox");
  const { sql, state } = ctx;
  /** Rows of the current attempt this store holds the lease of. */
  const held = (id: string): [string, string, number] | null => {
    const attempt = state.outboxClaims.get(id);
    return attempt === undefined ? null : [id, state.holder, attempt];
  };
  const HELD = "id = $1 AND status = 'pending' AND claimed_by = $2 AND attempts = $3";

  return {
    async enqueue(m) {
      await sql.unsafe(`INSERT INTO ${t} (id, template, to_addr, payload, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
        [m.id, m.template, m.to, m.payload, m.nowMs, m.nowMs]);
    },
    async due(nowMs, limit) {
      const found = await rows<Record<string, unknown>>(sql,
        `SELECT id, template, to_addr, payload, attempts, next_attempt_at FROM ${t}
          WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, created_at LIMIT $2`, [nowMs, limit]);
      return found.map((r): OutboxRow => ({
        id: r.id as string,
        template: r.template as TemplateName,
        to_addr: r.to_addr as string,
        payload: r.payload as string | null,
        attempts: num(r.attempts),
        next_attempt_at: num(r.next_attempt_at),
      }));
    },
    async claim(id, attempts, retryAtMs) {
      const claimed = await rows(sql,
        `UPDATE ${t} SET attempts = attempts + 1, next_attempt_at = $1, claimed_by = $2
          WHERE id = $3 AND status = 'pending' AND attempts = $4 RETURNING attempts`, [retryAtMs, state.holder, id, attempts]);
      if (claimed.length !== 1) return false;
      state.outboxClaims.set(id, attempts + 1);
      return true;
    },
    async markSent(id, nowMs) {
      const h = held(id);
      if (h === null) return false;
      state.outboxClaims.delete(id);
      return (await changes(sql, `UPDATE ${t} SET status = 'sent', payload = NULL, last_error = NULL, finished_at = $4 WHERE ${HELD}`, [...h, nowMs])) === 1;
    },
    async markFailed(id, nowMs, error) {
      const h = held(id);
      if (h === null) return false;
      state.outboxClaims.delete(id);
      return (await changes(sql, `UPDATE ${t} SET status = 'failed', payload = NULL, last_error = $4, finished_at = $5 WHERE ${HELD}`, [...h, error, nowMs])) === 1;
    },
    async recordError(id, error) {
      const h = held(id);
      if (h === null) return false;
      // The attempt is over: the message waits for its retry time (the lease's end), claimable by anyone.
      state.outboxClaims.delete(id);
      return (await changes(sql, `UPDATE ${t} SET last_error = $4 WHERE ${HELD}`, [...h, error])) === 1;
    },
    async nextDueAt() {
      const [r] = await rows(sql, `SELECT MIN(next_attempt_at) AS at FROM ${t} WHERE status = 'pending'`);
      return numOrNull(r?.at);
    },
    async counts() {
      const [r] = await rows(sql,
        `SELECT count(*) FILTER (WHERE status = 'pending') AS pending, count(*) FILTER (WHERE status = 'failed') AS failed FROM ${t} WHERE status <> 'sent'`);
      return { pending: num(r?.pending ?? 0), failed: num(r?.failed ?? 0) };
    },
    async listUnsent(limit) {
      const found = await rows<Record<string, unknown>>(sql,
        `SELECT id, template, status, attempts, next_attempt_at, created_at, last_error FROM ${t}
          WHERE status <> 'sent' ORDER BY created_at DESC, id LIMIT $1`, [limit]);
      return found.map((r): OutboxMessageView => ({
        id: r.id as string,
        template: r.template as string,
        status: r.status as string,
        attempts: num(r.attempts),
        next_attempt_at: num(r.next_attempt_at),
        created_at: num(r.created_at),
        last_error: r.last_error as string | null,
      }));
    },
    async findFailed(id) {
      const [r] = await rows<{ template: string; to_addr: string }>(sql, `SELECT template, to_addr FROM ${t} WHERE id = $1 AND status = 'failed'`, [id]);
      return r ? { template: r.template, to_addr: r.to_addr } : null;
    },
    async remove(id) {
      await sql.unsafe(`DELETE FROM ${t} WHERE id = $1`, [id]);
    },
    async pruneFinished(beforeMs) {
      return await changes(sql, `DELETE FROM ${t} WHERE status <> 'pending' AND finished_at < $1`, [beforeMs]);
    },
  };
}
