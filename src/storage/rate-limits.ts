/** Fixed-window counters of the rate limits (SPEC 9.5): the `rateLimits` operation group. */
import type { RateLimitRule } from "../config/types.ts";

export interface RateLimitResult {
  readonly allowed: boolean;
  /** Count in the current window, this hit included. */
  readonly count: number;
  /** Seconds until the window ends (>= 1). */
  readonly retryAfterSeconds: number;
}

export interface RateLimitsOps {
  /** Counts one event under `key` and says whether it is within `rule`. Atomic: parallel hits never both see "one left". */
  hit(key: string, rule: RateLimitRule, nowMs: number): Promise<RateLimitResult>;
  /** Reads the current count without counting. */
  peek(key: string, rule: RateLimitRule, nowMs: number): Promise<RateLimitResult>;
  /** Takes back one counted event (e.g. a login that turned out to be correct). */
  undo(key: string): Promise<void>;
  /** Deletes the counter under `key` (an admin clearing a lockout). */
  clear(key: string): Promise<void>;
  /** Deletes counters whose window has ended (each rule by its own window); returns how many went. */
  prune(nowMs: number): Promise<number>;
  /**
   * One housekeeping window: looks at the `window` counters after key `after` ("" = from the start)
   * and deletes those whose window has ended, in one short transaction. Null when no counter is left.
   */
  pruneWindow(nowMs: number, after: string, window: number): Promise<{ last: string; examined: number; deleted: number } | null>;
}

/** The group's former name, kept while other branches still implement it under that name. */
export type RateLimits = RateLimitsOps;
