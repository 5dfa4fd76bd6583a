import type { Database, Statement } from "bun:sqlite";
import type { RateLimitName, RateLimitRule } from "../../config/types.ts";
import type { RateLimitResult, RateLimitsOps } from "../rate-limits.ts";
import type { SqliteStoreContext, Sync } from "./store.ts";
import { windowPruner, type KeyValue, type PruneStep } from "./prune-window.ts";

export type { RateLimitResult } from "../rate-limits.ts";

export interface RateLimiter {
  /** Counts one event and says whether it is within the limit. One atomic statement. */
  hit(key: string, rule: RateLimitRule, nowMs: number): RateLimitResult;
  /** Reads the current count without counting. */
  peek(key: string, rule: RateLimitRule, nowMs: number): RateLimitResult;
  /** Takes back one counted event (e.g. a login that turned out to be correct). */
  undo(key: string): void;
  /**
   * Deletes counters whose window has ended (each rule by its own window), so a counter row
   * lives only as long as its window. Returns how many went.
   */
  prune(nowMs: number): number;
  /**
   * The same clean-up, one window of the key space at a time (housekeeping): looks at the next
   * `window` counters after `after` and deletes the ended ones, in one short transaction.
   */
  pruneWindow(nowMs: number, after: KeyValue, window: number): PruneStep | null;
}

/**
 * Window used to prune a rule's counters. A rule that is `off` may still be written (paths that
 * must do the same work either way count with a one-hour window), so it is pruned after an hour.
 */
const OFF_RULE_WINDOW_SECONDS = 3600;
/** Counters under a key no rule names (none today) are kept this long at most. */
const UNKNOWN_KEY_RETENTION_MS = 31 * 86_400_000;

/**
 * Fixed-window counters in the project database. `hit` is a single UPSERT ... RETURNING, so
 * parallel requests can never both see "one left": SQLite serializes the statement.
 */
export function createRateLimiter(db: Database, rules: Readonly<Partial<Record<RateLimitName, RateLimitRule | null>>> = {}): RateLimiter {
  const hitStmt: Statement = db.query(`
    INSERT INTO _rate_limits(key, window_start, count) VALUES (?1, ?2, 1)
    ON CONFLICT(key) DO UPDATE SET
      count = CASE WHEN window_start + ?3 <= ?2 THEN 1 ELSE count + 1 END,
      window_start = CASE WHEN window_start + ?3 <= ?2 THEN ?2 ELSE window_start END
    RETURNING count, window_start`);
  const peekStmt: Statement = db.query("SELECT count, window_start FROM _rate_limits WHERE key = ?");
  const undoStmt: Statement = db.query("UPDATE _rate_limits SET count = count - 1 WHERE key = ? AND count > 0");
  // Keys are `<rule>:<subject>`: a primary-key range per rule, then each by its own window.
  const pruneRule: Statement = db.query("DELETE FROM _rate_limits WHERE key >= ?1 AND key < ?2 AND window_start + ?3 <= ?4");
  const pruneOld: Statement = db.query("DELETE FROM _rate_limits WHERE window_start < ?");
  // One condition for every rule: a counter under `<rule>:` ends with its rule's window (names
  // and windows come from the validated configuration, not from a request).
  const ended = Object.entries(rules)
    .filter(([name]) => /^[a-z_]+$/.test(name))
    .map(([name, rule]) => `(key >= '${name}:' AND key < '${name};' AND window_start + ${(rule?.windowSeconds ?? OFF_RULE_WINDOW_SECONDS) * 1000} <= ?3)`);
  let windowed: ReturnType<typeof windowPruner> | null = null;
  const prune = (nowMs: number): number => {
    let removed = 0;
    for (const [name, rule] of Object.entries(rules)) {
      const windowMs = (rule?.windowSeconds ?? OFF_RULE_WINDOW_SECONDS) * 1000;
      removed += pruneRule.run(`${name}:`, `${name};`, windowMs, nowMs).changes;
    }
    return removed + pruneOld.run(nowMs - UNKNOWN_KEY_RETENTION_MS).changes;
  };

  const result = (count: number, windowStart: number, rule: RateLimitRule, nowMs: number): RateLimitResult => ({
    allowed: count <= rule.max,
    count,
    retryAfterSeconds: Math.max(1, Math.ceil((windowStart + rule.windowSeconds * 1000 - nowMs) / 1000)),
  });

  return {
    // Ended counters are deleted by housekeeping (hourly while the project is open, daily while
    // it stays closed), a window at a time: never here, where one large DELETE would hold up the
    // request and every other one.
    hit(key, rule, nowMs) {
      const r = hitStmt.get(key, nowMs, rule.windowSeconds * 1000) as { count: number; window_start: number };
      return result(r.count, r.window_start, rule, nowMs);
    },
    peek(key, rule, nowMs) {
      const r = peekStmt.get(key) as { count: number; window_start: number } | null;
      if (!r || r.window_start + rule.windowSeconds * 1000 <= nowMs) return { allowed: true, count: 0, retryAfterSeconds: 1 };
      return { ...result(r.count, r.window_start, rule, nowMs), allowed: r.count < rule.max };
    },
    undo(key) {
      undoStmt.run(key);
    },
    prune,
    pruneWindow(nowMs, after, window) {
      windowed ??= windowPruner(db, "_rate_limits", "key", [...ended, "window_start < ?4"].join(" OR "));
      return windowed(after, window, [nowMs, nowMs - UNKNOWN_KEY_RETENTION_MS]);
    },
  };
}

/** The `rateLimits` group of the SQLite store: the counters above, built on first use. */
export function sqliteRateLimits(ctx: SqliteStoreContext): Sync<RateLimitsOps> {
  let limiter: RateLimiter | null = null;
  const get = (): RateLimiter => (limiter ??= createRateLimiter(ctx.db, ctx.config.auth.rateLimits));
  let clearStmt: Statement | null = null;
  return {
    hit: (key, rule, nowMs) => get().hit(key, rule, nowMs),
    peek: (key, rule, nowMs) => get().peek(key, rule, nowMs),
    undo: (key) => get().undo(key),
    clear: (key) => {
      (clearStmt ??= ctx.db.prepare("DELETE FROM _rate_limits WHERE key = ?")).run(key);
    },
    prune: (nowMs) => get().prune(nowMs),
    pruneWindow: (nowMs, after, window) => {
      const step = get().pruneWindow(nowMs, after, window);
      return step && { last: String(step.last), examined: step.examined, deleted: step.deleted };
    },
  };
}
