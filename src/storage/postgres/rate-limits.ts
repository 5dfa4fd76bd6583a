/**
 * The `rateLimits` group of the PostgreSQL store: fixed-window counters. `hit` is one
 * `INSERT ... ON CONFLICT ... DO UPDATE ... RETURNING`: PostgreSQL locks the counter's row for the
 * update, so parallel hits from any number of replicas each get their own count, never two alike.
 */
import type { RateLimitRule } from "../../config/types.ts";
import type { RateLimitResult, RateLimits } from "../rate-limits.ts";
import { changes, num, rows, type PgRunner } from "./run.ts";
import type { PgGroupContext } from "./store.ts";

/** Same windows as the SQLite engine: an `off` rule's counters go after an hour, unknown keys after 31 days. */
const OFF_RULE_WINDOW_SECONDS = 3600;
const UNKNOWN_KEY_RETENTION_MS = 31 * 86_400_000;

function result(count: number, windowStart: number, rule: RateLimitRule, nowMs: number): RateLimitResult {
  return {
    allowed: count <= rule.max,
    count,
    retryAfterSeconds: Math.max(1, Math.ceil((windowStart + rule.windowSeconds * 1000 - nowMs) / 1000)),
  };
}

export function pgRateLimits(ctx: PgGroupContext, r: PgRunner): RateLimits {
  const table = `${ctx.schema}._rate_limits`;
  return {
    async hit(key, rule, nowMs) {
      const [x] = await rows<{ count: unknown; window_start: unknown }>(
        r.q,
        `INSERT INTO ${table} AS c (key, window_start, count) VALUES ($1, $2::bigint, 1)
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN c.window_start + $3::bigint <= $2::bigint THEN 1 ELSE c.count + 1 END,
           window_start = CASE WHEN c.window_start + $3::bigint <= $2::bigint THEN $2::bigint ELSE c.window_start END
         RETURNING count, window_start`,
        [key, nowMs, rule.windowSeconds * 1000],
      );
      return result(num(x!.count), num(x!.window_start), rule, nowMs);
    },
    async peek(key, rule, nowMs) {
      const [x] = await rows<{ count: unknown; window_start: unknown }>(r.q, `SELECT count, window_start FROM ${table} WHERE key = $1`, [key]);
      if (!x || num(x.window_start) + rule.windowSeconds * 1000 <= nowMs) return { allowed: true, count: 0, retryAfterSeconds: 1 };
      const count = num(x.count);
      return { ...result(count, num(x.window_start), rule, nowMs), allowed: count < rule.max };
    },
    async undo(key) {
      await r.q.unsafe(`UPDATE ${table} SET count = count - 1 WHERE key = $1 AND count > 0`, [key]);
    },
    async clear(key) {
      await r.q.unsafe(`DELETE FROM ${table} WHERE key = $1`, [key]);
    },
    async prune(nowMs) {
      // Keys are `<rule>:<subject>`, each counter ends with its rule's window (starts_with, not a key
      // range: a range would depend on the database's collation).
      let removed = 0;
      for (const [name, rule] of Object.entries(ctx.config.auth.rateLimits)) {
        const windowMs = (rule?.windowSeconds ?? OFF_RULE_WINDOW_SECONDS) * 1000;
        removed += await changes(r.q, `DELETE FROM ${table} WHERE starts_with(key, $1) AND window_start + $2::bigint <= $3::bigint`, [
          `${name}:`,
          windowMs,
          nowMs,
        ]);
      }
      return removed + (await changes(r.q, `DELETE FROM ${table} WHERE window_start < $1::bigint`, [nowMs - UNKNOWN_KEY_RETENTION_MS]));
    },
    async pruneWindow(nowMs, after, window) {
      // One statement: the next `window` keys after `after` (byte order, whatever the collation)
      // and, among them, the counters whose window has ended deleted.
      const params: unknown[] = [after, window, nowMs, nowMs - UNKNOWN_KEY_RETENTION_MS];
      const ended = Object.entries(ctx.config.auth.rateLimits).map(([name, rule]) => {
        params.push(`${name}:`, (rule?.windowSeconds ?? OFF_RULE_WINDOW_SECONDS) * 1000);
        return `(starts_with(t.key, $${params.length - 1}) AND t.window_start + $${params.length}::bigint <= $3::bigint)`;
      });
      const [x] = await rows<{ last: string | null; n: unknown; deleted: unknown }>(r.q,
        `WITH w AS (SELECT key FROM ${table} WHERE key COLLATE "C" > $1 ORDER BY key COLLATE "C" LIMIT $2),
         d AS (DELETE FROM ${table} t USING w WHERE t.key = w.key AND (${[...ended, "t.window_start < $4::bigint"].join(" OR ")}) RETURNING 1)
         SELECT (SELECT max(key COLLATE "C") FROM w) AS last, (SELECT count(*) FROM w) AS n, (SELECT count(*) FROM d) AS deleted`, params);
      if (!x || x.last === null) return null;
      return { last: x.last, examined: num(x.n), deleted: num(x.deleted) };
    },
  };
}
